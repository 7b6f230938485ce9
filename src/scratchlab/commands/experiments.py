"""`scratchlab run`, `scratchlab train` and `scratchlab report`."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from scratchlab.commands.tables import parse_ints
from scratchlab.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    _register_run(sub)
    _register_train(sub)
    _register_report(sub)


def _register_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run an experiment file and write its report")
    run.add_argument(
        "file", type=Path, help="experiment TOML file, e.g. experiments/assignment1.toml"
    )
    _common(run)
    run.add_argument("--only", help="comma-separated run names or patterns (e.g. 'grid-*')")
    run.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes")
    run.add_argument(
        "--fresh",
        action="store_true",
        help="retrain runs that already finished (their results move to replaced/)",
    )
    run.add_argument(
        "--many", action="store_true", help="allow more runs than the safety limit (a large grid)"
    )
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value in every run, e.g. --set train.n_epochs=5",
    )
    run.add_argument(  # issue 13: runs as tasks on a Dask cluster (docs/CLUSTER.md)
        "--cluster",
        default=os.environ.get("SCRATCHLAB_CLUSTER") or None,
        metavar="tcp://HOST:PORT",
        help="train the runs on this Dask scheduler's workers (default: $SCRATCHLAB_CLUSTER)",
    )
    run.set_defaults(func=_run)


def _register_train(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="one run from flags (same outputs as `run`)")
    _common(train)
    train.add_argument("--name", default="train", help="experiment and run name")
    train.add_argument("--dataset", default="cifar10")
    train.add_argument("--split")
    train.add_argument("--val-size", type=int, default=1000)
    train.add_argument("--hidden", default="", help="hidden layer sizes, e.g. 50 or 128,64")
    train.add_argument("--loss", default="cross_entropy", help="cross_entropy or svm")
    train.add_argument("--init", default="normal", help="normal, xavier or he")
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--batch-norm", action="store_true")
    train.add_argument("--optimizer", default="sgd", help="sgd, momentum, nesterov or adam")
    train.add_argument("--eta", type=float, default=0.001)
    train.add_argument("--lambda", dest="lam", type=float, default=0.0, help="L2 strength")
    train.add_argument("--l1", type=float, default=0.0)
    train.add_argument("--n-epochs", type=int, default=40)
    train.add_argument("--n-batch", default="100", help='batch size or "full"')
    train.add_argument(
        "--schedule", default="constant", help="e.g. constant or exp_decay:gamma=0.9"
    )
    train.add_argument("--shuffle", action="store_true")
    train.add_argument("--augment", default="", help="e.g. flip,translate:max_shift=2")
    train.add_argument("--keep-best", action="store_true")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--fresh",
        action="store_true",
        help="retrain if --name already holds a finished run (moved to replaced/)",
    )
    train.set_defaults(func=_train)


def _register_report(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="rebuild the report of a results folder")
    report.add_argument("dir", type=Path, help="the experiment's results folder")
    report.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="{html,md,pdf,latex}",
        help="report files to write, repeated or comma-separated, e.g. --format pdf,latex "
        "(default: md and html; see the README's hand-in formats)",
    )
    report.set_defaults(func=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("results"), help="results folder (results/)")
    p.add_argument("--data-path", help="explicit dataset folder or archive (skips the md5 check)")


def _run(args: argparse.Namespace) -> int:
    from scratchlab.experiments.config import load_experiment

    overrides = _parse_sets(args.sets)
    if args.data_path:
        overrides.setdefault("data", {})["path"] = str(Path(args.data_path).resolve())
    exp = load_experiment(args.file, overrides=overrides or None)
    return _execute(
        exp,
        args.out,
        only=args.only,
        jobs=args.jobs,
        fresh=args.fresh,
        many=args.many,
        cluster=args.cluster,
    )


def _train(args: argparse.Namespace) -> int:
    from scratchlab.experiments.config import parse_experiment

    run: dict = {
        "name": args.name,
        "data": {"dataset": args.dataset, "val_size": args.val_size},
        "model": {
            "hidden": parse_ints(args.hidden, "--hidden"),
            "loss": args.loss,
            "init": args.init,
            "dropout": args.dropout,
            "batch_norm": args.batch_norm,
        },
        "train": {
            "optimizer": args.optimizer,
            "eta": args.eta,
            "lambda": args.lam,
            "l1": args.l1,
            "n_epochs": args.n_epochs,
            "n_batch": _batch(args.n_batch),
            "schedule": _named(args.schedule, "name"),
            "shuffle": args.shuffle,
            "augment": [_named(a, "kind") for a in args.augment.split(",") if a],
            "keep_best": args.keep_best,
        },
    }
    if args.split:
        run["data"]["split"] = args.split
    if args.data_path:
        run["data"]["path"] = str(Path(args.data_path).resolve())
    exp = parse_experiment({"name": args.name, "seed": args.seed, "runs": [run]})
    return _execute(exp, args.out, only=None, jobs=1, fresh=args.fresh)


def _execute(
    exp, out: Path, *, only, jobs: int, fresh: bool, many: bool = False, cluster=None
) -> int:
    from scratchlab.experiments.runner import run_experiment

    result = run_experiment(exp, out, only=only, jobs=jobs, fresh=fresh, many=many, cluster=cluster)
    print_summary(result.rows)
    print(f"\nReport: {result.report_html}\n        {result.report_md}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from scratchlab.experiments import report_formats
    from scratchlab.experiments.report import build_report
    from scratchlab.experiments.store import ResultsFolder

    formats = report_formats.parse(args.formats)
    if not (args.dir / "experiment.json").is_file():
        raise ConfigError(
            f"{args.dir} is not an experiment results folder (no experiment.json); "
            "pass the folder `scratchlab run` wrote, e.g. results/assignment1"
        )
    report_formats.check(formats)
    with ResultsFolder(args.dir):
        paths = dict(zip(formats, build_report(args.dir, formats), strict=True))
    shown = [paths[f] for f in ("html", "md", "pdf", "latex") if f in paths]
    print("Report: " + "\n        ".join(str(p) for p in shown))
    return 0


def print_summary(rows: list[dict]) -> None:
    """The runs' final accuracies as a terminal table."""
    from scratchlab.commands.tables import pct, print_table

    header = [
        "run",
        "loss",
        "lambda",
        "eta",
        "epochs",
        "train acc",
        "val acc",
        "test acc",
        "status",
    ]
    body = [
        [
            r["run"],
            r["loss"],
            f"{r['lambda']:g}",
            f"{r['eta']:g}",
            str(r["epochs_trained"]),
            pct(r["train_acc"]),
            pct(r["val_acc"]),
            pct(r["test_acc"]),
            r["status"],
        ]
        for r in rows
    ]
    print_table(header, body, right=(2, 3, 4, 5, 6, 7))


def _batch(text: str) -> int | str:
    return "full" if text == "full" else parse_ints(text, "--n-batch")[0] if text else 100


def _named(text: str, key: str) -> dict:
    """'exp_decay:gamma=0.9' → {key: 'exp_decay', 'gamma': 0.9}."""
    name, _, rest = text.partition(":")
    out: dict = {key: name.strip()}
    for item in filter(None, rest.split(";" if ";" in rest else ",")):
        k, sep, v = item.partition("=")
        if not sep:
            raise ConfigError(f"expected KEY=VALUE in {text!r}, got {item!r}")
        out[k.strip()] = _value(v.strip())
    return out


def _parse_sets(sets: list[str]) -> dict:
    out: dict = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes KEY=VALUE (e.g. train.n_epochs=5), got {item!r}")
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = _value(value.strip())
    return out


def _value(text: str):
    """Parse a TOML value (number, bool, string, list); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
