"""`scratchlab gradcheck`: check a model's analytic gradients against centred differences."""

from __future__ import annotations

import argparse
import math

import numpy as np

from scratchlab.errors import ConfigError
from scratchlab.nn.build import DROPOUT_WHERE, build_mlp
from scratchlab.nn.init import INITS
from scratchlab.nn.losses import LOSSES

SYNTHETIC_D, SYNTHETIC_K = 3072, 10


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="compare analytic gradients with numerical ones (float64 centred differences)",
        description=(
            "Build an MLP, compute the gradient of its cost (loss + regularisation) on the "
            "first --n-samples samples and first --n-dims features, and compare it entry by "
            "entry with centred differences. Exit 0 when every entry agrees (rel err < --tol "
            "or abs err below the round-off floor), 1 otherwise."
        ),
    )
    p.add_argument("--hidden", default="", help="hidden sizes, e.g. 50,50 (empty: linear)")
    p.add_argument("--loss", choices=list(LOSSES), default="cross_entropy")
    p.add_argument("--lambda", dest="lam", type=float, default=0.0, help="penalty strength")
    p.add_argument("--l1", action="store_true", help="L1 instead of L2 penalty with --lambda")
    p.add_argument("--batch-norm", action="store_true", help="BatchNorm after hidden Linears")
    p.add_argument("--dropout", type=float, default=0.0, help="drop probability (mask frozen)")
    p.add_argument("--dropout-where", choices=DROPOUT_WHERE, default="hidden")
    p.add_argument(
        "--init", choices=INITS, default=None,
        help="weight init (default: normal std 0.01 for the linear model, he with hidden layers)",
    )  # fmt: skip
    p.add_argument("--init-std", type=float, default=0.01, help="std of the normal init")
    p.add_argument("--n-samples", type=int, default=20, help="check on the first N samples")
    p.add_argument("--n-dims", type=int, default=20, help="... and the first D input features")
    p.add_argument("--h", type=float, default=1e-5, help="finite-difference step")
    p.add_argument("--tol", type=float, default=1e-6, help="relative-error tolerance")
    p.add_argument(
        "--atol", type=float, default=None,
        help="absolute-error floor (default: round-off floor 10*eps*|J|/h; 0 = strict rel)",
    )  # fmt: skip
    p.add_argument("--max-entries", type=int, default=4096, help="entries checked per tensor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--dataset", default=None,
        help=f"dataset name (default: synthetic Gaussian data, {SYNTHETIC_K} classes, "
        f"d={SYNTHETIC_D}; needs no files)",
    )  # fmt: skip
    p.add_argument("--split", default=None, help="dataset split (default: its first split)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.set_defaults(func=run)


def parse_hidden(text: str) -> tuple[int, ...]:
    """ "50,50" -> (50, 50); "" -> () (the linear classifier)."""
    from scratchlab.commands.tables import parse_ints

    return tuple(parse_ints(text, "--hidden"))


def check_options(args: argparse.Namespace) -> None:
    """ConfigError (exit 2) for options that would make the check meaningless: sizes < 1,
    lambda or init std not finite (or negative / zero), h, tol or atol not finite and
    positive (`scratchlab.gradcheck.check_settings`)."""
    from scratchlab.gradcheck import check_settings

    if args.n_samples < 1 or args.n_dims < 1 or args.max_entries < 1:
        raise ConfigError("--n-samples, --n-dims and --max-entries must be >= 1")
    if not (math.isfinite(args.lam) and args.lam >= 0):
        raise ConfigError(f"--lambda must be a finite number >= 0, got {args.lam}")
    if not (math.isfinite(args.init_std) and args.init_std > 0):
        raise ConfigError(f"--init-std must be a finite number > 0, got {args.init_std}")
    check_settings(args.h, args.tol, args.atol)


def _load_data(args: argparse.Namespace, rng: np.random.Generator):
    """(X, y, n_classes, description) for the check."""
    if args.dataset is None:
        X = rng.standard_normal((args.n_samples, SYNTHETIC_D))
        y = rng.integers(0, SYNTHETIC_K, size=args.n_samples)
        return X, y, SYNTHETIC_K, f"synthetic Gaussian ({SYNTHETIC_K} classes, d={SYNTHETIC_D})"
    from scratchlab.data import load_split  # imported only when a dataset is asked for

    splits = load_split(args.dataset, args.split)  # split None: the dataset's default
    X, y = splits.standardiser(splits.train.X[: args.n_samples]), splits.train.y[: args.n_samples]
    name = f"{splits.dataset} ({splits.split}, train part, d={X.shape[1]})"
    return X, y, len(splits.class_names), name


def run(args: argparse.Namespace) -> int:
    from scratchlab.gradcheck import format_table, gradcheck, to_markdown, verdict

    hidden = parse_hidden(args.hidden)
    check_options(args)
    rng = np.random.default_rng(args.seed)
    X, y, n_classes, source = _load_data(args, rng)
    d = min(args.n_dims, X.shape[1])
    init = args.init or ("he" if hidden else "normal")
    # The model is built for the d features checked (as if the images had only those), so
    # xavier/he scale the first layer for d inputs, as the course's 20-dimension check does.
    model = build_mlp(
        d, n_classes, hidden, dropout=args.dropout, dropout_where=args.dropout_where,
        batch_norm=args.batch_norm, loss=args.loss, init=init, init_std=args.init_std,
        l2=0.0 if args.l1 else args.lam, l1=args.lam if args.l1 else 0.0,
        rng=rng, dtype=np.float64,
    )  # fmt: skip
    rows = gradcheck(
        model, X[:, :d], y, h=args.h, n_samples=args.n_samples, n_dims=None, tol=args.tol,
        atol=args.atol, max_entries=args.max_entries, seed=args.seed,
    )  # fmt: skip
    layers = " -> ".join(repr(layer) for layer in model.layers)
    regs = ", ".join(repr(r) for r in model.regularisers) or "none"
    print(f"model: {layers}")
    print(f"loss: {args.loss}; regularisation: {regs}; init: {init}")
    print(f"data: {source}; first {min(args.n_samples, X.shape[0])} samples, first {d} dims")
    print(f"check: float64 centred differences, h={args.h:g}, cost = loss + penalty\n")
    print(to_markdown(rows) if args.markdown else format_table(rows))
    print()
    text = verdict(rows)
    print(text)
    return 0 if text.startswith("PASS") else 1
