"""Experiment files to reports: schema, expansion, runner, report."""
