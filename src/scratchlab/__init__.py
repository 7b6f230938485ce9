"""scratchlab: train image classifiers from scratch in NumPy and write the lab report."""

__version__ = "0.1.0"
