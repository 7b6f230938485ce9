"""The report's "Sanity checks" section (the rules are in `scratchlab.experiments.sanity`).

initial loss      every finished run's untrained training loss against ln K (cross-
                  entropy) or K − 1 (multi-class hinge); runs with the same model, init
                  and loss share a row
overfit           gradcheck.json["overfit"]: the tiny subset overfitted to 100 %, or not,
                  in how many epochs, with the accuracy and loss before and after
"""

from __future__ import annotations

from scratchlab.experiments import sanity
from scratchlab.experiments.document import Block, Heading, Para, Table
from scratchlab.experiments.records import RunRecord
from scratchlab.experiments.textfmt import finite, pct


def model_text(m: dict) -> str:
    """`linear, CE` / `50-50 BN, SVM`: a check's or a run's model in a few characters."""
    hidden = "-".join(map(str, m.get("hidden") or [])) or "linear"
    bn = " BN" if m.get("batch_norm") else ""
    drop = f" dropout {m['dropout']:g}" if m.get("dropout") else ""
    loss = {"cross_entropy": "CE", "svm": "SVM"}.get(m.get("loss"), str(m.get("loss")))
    return f"{hidden}{bn}{drop}, {loss}"


def init_text(m: dict) -> str:
    kind = m.get("init", "normal")
    if kind == "normal":
        return f"N(0, {m.get('init_std', 0.01):g}²)"
    return {"he": "He", "xavier": "Xavier"}.get(kind, str(kind))


def sanity_blocks(records: list[RunRecord], overfit: dict | None) -> list[Block]:
    rows = initial_loss_rows(records)
    blocks = [Heading("Sanity checks", 2)] if rows or overfit else []
    if rows:
        blocks += [
            Table(
                ["model, init", "untrained loss", "expected", "difference", "reading", "runs"],
                rows,
                "Untrained training loss against its value for all-zero scores.",
            ),
            Para(_initial_rule()),
        ]
    if overfit:
        blocks += overfit_blocks(overfit)
    return blocks


def _initial_rule() -> str:
    tol = f"{100 * sanity.TOLERANCE:g} %"
    return (
        "With every score 0 a K-class model predicts 1/K per class: the loss is ln K "
        "(cross-entropy) or K − 1 (multi-class hinge, margin 1). Random initial weights "
        "spread the scores (σ) and raise the expected loss, by about (1 − 1/K) σ²/2 for "
        f"cross-entropy. Within {tol} of that value reads **as expected**; more than {tol} "
        "**above**: spread-out initial scores (a large init_std, He or Xavier init through "
        "several layers) — the model starts confident on random classes; not an error by "
        f"itself, training has to undo it; more than {tol} **below**: better than chance "
        "before training — look for a bug, leaked labels or a wrong loss."
    )


def _run_check(rec: RunRecord) -> tuple[str, sanity.InitialLoss, str] | None:
    """(model text, its initial-loss check, reading); None when the run wrote no untrained
    loss or no classes (a null loss -- not finite -- is read, not skipped)."""
    model = (rec.config or {}).get("model")
    k = len(rec.data.get("class_names") or [])
    untrained = (rec.metrics.get("untrained") or {}).get("train") or {}
    if k < 2 or not isinstance(model, dict) or "loss" not in untrained:
        return None
    check = sanity.initial_loss(str(model.get("loss")), k, rec.untrained("train", "loss"))
    return f"{model_text(model)}, {init_text(model)}", check, _reading(check, model)


def _reading(check: sanity.InitialLoss, model: dict) -> str:
    verdict = check.verdict
    if verdict == "above":
        layers = len(model.get("hidden") or []) + 1
        cause = (
            f"init_std {model.get('init_std', 0.01):g}"
            if model.get("init") == "normal"
            else f"{init_text(model)} init through {layers} layer{'s' * (layers > 1)}"
        )
        return f"above: spread-out initial scores ({cause}); not an error by itself"
    if verdict == "below":
        return "below: better than chance before training; check the loss and labels"
    if verdict == "not finite":
        return "not finite: the initial scores overflow"
    return "as expected"


def _expected(check: sanity.InitialLoss, loss: str, k: int) -> str:
    return f"K − 1 = {check.expected:g}" if loss == "svm" else f"ln {k} = {check.expected:.3f}"


def initial_loss_rows(records: list[RunRecord], shown: int = 4) -> list[list[str]]:
    """One row per distinct (model, init, untrained loss); the runs that share it listed."""
    groups: dict[tuple, list] = {}
    for rec in records:
        found = _run_check(rec)
        if found is not None:
            model, check, reading = found
            key = (model, check.expected, round(check.loss, 4), reading)
            groups.setdefault(key, [found, rec, []])[2].append(rec.name)
    rows = []
    for (model, check, reading), rec, names in groups.values():
        listed = ", ".join(f"`{n}`" for n in names[:shown])
        more = f" + {len(names) - shown} more" if len(names) > shown else ""
        loss = str(rec.config["model"].get("loss"))
        diff = (
            f"{check.difference:+.3f} ({100 * check.relative:+.1f} %)"
            if finite(check.difference)
            else "–"
        )
        rows.append(
            [
                model,
                _num(check.loss, 3),
                _expected(check, loss, len(rec.data["class_names"])),
                diff,
                reading,
                listed + more,
            ]
        )
    return rows


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}" if finite(x) else "–"


def _rate(schedule: dict, eta: object) -> str:
    """`η 0.001`, `a cyclical rate 1e-05–0.1`, `an exp_decay rate from η 0.01`."""
    name = schedule.get("name", "constant")
    if name == "constant":
        return f"η {eta:g}"
    if name == "cyclical":
        return f"a cyclical rate {schedule['eta_min']:g}–{schedule['eta_max']:g}"
    return (
        f"an {name} rate from η {eta:g}" if name[0] in "aeiou" else f"a {name} rate from η {eta:g}"
    )


def overfit_blocks(o: dict) -> list[Block]:
    """The tiny-subset overfit: reached or not, in how many epochs, with its numbers."""
    final, start = o.get("final") or {}, o.get("untrained") or {}
    reached = bool(o.get("reached"))
    result = (
        f"reached 100 % training accuracy after {o['epochs']} epochs"
        if reached
        else f"did **not** reach 100 %: {pct(final.get('acc'), 1)} after {o['epochs']} "
        f"epochs (the maximum)"
    )
    if o.get("status") == "diverged":
        result = f"diverged after {o['epochs']} epochs (non-finite loss)"
    rate = _rate(o.get("schedule") or {}, o.get("eta"))
    setup = (
        f"`{o.get('run', '')}`'s model ({model_text(o.get('model') or {})}, "
        f"{init_text(o.get('model') or {})}) with λ = 0, no dropout or augmentation, "
        f"{o.get('optimizer')} with {rate}, batches of {o.get('n_batch')}"
    )
    loss = " → ".join(
        f"{x:.3f}" if finite(x) else "–" for x in (start.get("loss"), final.get("loss"))
    )
    return [
        Para(
            f"**Tiny subset overfitted.** {setup}, trained on the first {o['n_images']} "
            f"training images for at most {o['max_epochs']} epochs: {result} (training "
            f"accuracy {pct(start.get('acc'), 1)} → {pct(final.get('acc'), 1)}, loss {loss}). "
            + (
                "A model and training loop that work memorise a few images; this one does."
                if reached
                else "A model and training loop that work memorise a few images: "
                "look at the learning rate, the loss or the gradients."
            )
        )
    ]
