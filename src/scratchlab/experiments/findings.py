"""Findings computed from the numbers by fixed rules; each one cites the numbers it rests on.

Per entry (a run, or the repeats of one configuration), the first rule that applies:

1. **diverged** — the run's status is `diverged` (a non-finite loss ended it).
2. **unstable** — in some history (each ensemble member's, each repeat's):
   a. the final training loss is above the untrained one (epoch 0): training made the model
      worse; or
   b. the training loss oscillates: among epochs 2..E, it rose by more than `RISE` (2 %)
      over the previous epoch at least max(2, ⌈`RISE_SHARE`·(E−1)⌉) times (20 %). Not
      applied to a cyclical learning rate, whose loss rises with the rate by design.
   An unstable run's train–validation gap says nothing about variance: no fit reading.
3. **no validation** — the entry has no validation accuracy: fit is not judged.
4. **overfitting** — the train–validation accuracy gap exceeds what the validation set's
   size explains (train accuracy > the upper end of validation accuracy's 95 % interval)
   AND is material: at least `MATERIAL_GAP` (2) points. A gap beyond the interval but
   smaller is **slight overfitting**: on 10,000 validation images a 0.8-point gap is
   significant, yet a model that generalises that well is not what "overfits" tells a
   reader. Cited with either: the epoch of the lowest validation loss when the final one
   is > 2 % above it.
5. **underfitting** — the training accuracy's 95 % interval lies wholly below that of the
   best training accuracy among the experiment's entries that are neither diverged nor
   unstable (other settings fit the same training images clearly better).
6. **fits** — none of the above: the gap is within the validation interval.

Across entries (`selection`): the **best** is the highest validation accuracy among entries
that did not diverge (never selected on test accuracy; no validation, no selection); entries
whose validation accuracy lies inside the best one's 95 % interval are **tied** with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scratchlab.experiments.entries import Entry
from scratchlab.experiments.textfmt import count, pct, pct_ci

RISE = 0.02
RISE_SHARE = 0.2
VAL_LOSS_RISE = 0.02
MATERIAL_GAP = 2.0  # points of train–validation accuracy gap that "overfitting" needs


@dataclass(frozen=True)
class Verdict:
    """The reading of one entry: `label` (diverged, unstable, no validation, overfitting,
    underfitting, fits) and one sentence with the numbers behind it."""

    label: str
    text: str


def _losses(rows: list[dict]) -> list[tuple[int, float]]:
    return [
        (int(r["epoch"]), float(r["train_loss"]))
        for r in rows
        if math.isfinite(float(r.get("train_loss", math.nan)))
    ]


def instability(rows: list[dict], cyclical: bool = False) -> str | None:
    """Rule 2 on one history: a sentence with the numbers, or None when stable
    (`cyclical`: rule 2a only)."""
    losses = _losses(rows)
    start = next((v for e, v in losses if e == 0), None)
    trained = [(e, v) for e, v in losses if e > 0]
    if not trained:
        return None
    last_epoch, last = trained[-1]
    if start is not None and last > start:
        return (
            f"training loss ended at {last:.3f} (epoch {last_epoch}), above its untrained "
            f"value {start:.3f}"
        )
    rises = [
        (e, v / p - 1)
        for (_, p), (e, v) in zip(trained, trained[1:], strict=False)
        if p > 0 and v > p * (1 + RISE)
    ]
    need = max(2, math.ceil(RISE_SHARE * (len(trained) - 1)))
    if len(trained) >= 3 and len(rises) >= need and not cyclical:
        worst = max(rises, key=lambda r: r[1])
        return (
            f"training loss oscillates: it rose by more than {100 * RISE:.0f} % in "
            f"{len(rises)} of {len(trained) - 1} epochs (at most +{100 * worst[1]:.0f} %, "
            f"epoch {worst[0]})"
        )
    return None


def _unstable(entry: Entry) -> str | None:
    for run in entry.runs:
        cyclical = ((run.config.get("train") or {}).get("schedule") or {}).get("name") == "cyclical"
        for i, rows in enumerate(run.histories):
            why = instability(rows, cyclical)
            if why:
                where = f"member {i + 1} of `{run.name}`" if len(run.histories) > 1 else ""
                where = where or (f"`{run.name}`" if entry.repeated else "")
                return f"{where}: {why}" if where else why
    return None


def _val_loss_note(entry: Entry) -> str:
    """The lowest validation loss's epoch, when the final one ended > 2 % above it."""
    if entry.repeated or len(entry.first.histories) != 1:
        return ""
    rows = [
        (r["epoch"], r["val_loss"])
        for r in entry.first.histories[0]
        if math.isfinite(r["val_loss"]) and r["epoch"] > 0
    ]
    if len(rows) < 2:
        return ""
    best_epoch, best = min(rows, key=lambda r: r[1])
    final = rows[-1][1]
    if final <= best * (1 + VAL_LOSS_RISE):
        return ""
    return (
        f"; validation loss was lowest at epoch {best_epoch} ({best:.3f}) and ended at {final:.3f}"
    )


def verdict(entry: Entry, best_train: Entry | None) -> Verdict:
    """Rules 1–6 for one entry; `best_train` is the entry with the best training accuracy
    among the stable ones (`best_training`)."""
    if entry.status == "diverged":
        run = next(r for r in entry.runs if r.status == "diverged")
        msg = run.metrics.get("message") or "a non-finite loss"
        epochs = run.metrics.get("epochs_trained")
        text = f"diverged after {epochs} epochs ({msg}); its metrics are the last finite epoch's"
        return Verdict("diverged", text)
    why = _unstable(entry)
    if why:
        return Verdict("unstable", f"unstable: {why}")
    if not math.isfinite(entry.acc("val").value):
        return Verdict("no validation", "no validation set: over- and underfitting not judged")
    return _fit(entry, best_train)


def _fit(entry: Entry, best_train: Entry | None) -> Verdict:
    """Rules 4–6: the train–validation gap against the validation interval."""
    train, val = entry.acc("train"), entry.acc("val")
    gap = 100 * (train.value - val.value)
    n_val = count(entry.n("val"))
    if train.value > val.hi:
        label = "overfitting" if gap >= MATERIAL_GAP else "slight overfitting"
        size = "" if gap >= MATERIAL_GAP else f", but under {MATERIAL_GAP:g} points"
        text = (
            f"{label}: training accuracy {pct(train.value)} is above validation accuracy "
            f"{pct_ci(val)} (n = {n_val}): a gap of {gap:.1f} points, beyond the interval's "
            f"upper end{size}{_val_loss_note(entry)}"
        )
        return Verdict(label, text)
    if best_train is not None and best_train is not entry:
        top = best_train.acc("train")
        if math.isfinite(train.hi) and train.hi < top.lo:
            text = (
                f"underfitting: training accuracy {pct_ci(train)} is below "
                f"`{best_train.name}`'s {pct_ci(top)} on the same training images, with a "
                f"train–validation gap of {gap:.1f} points (within the validation interval)"
            )
            return Verdict("underfitting", text)
    text = (
        f"fits: train–validation gap {gap:.1f} points, within validation accuracy's interval "
        f"{pct_ci(val)} (n = {n_val})"
    )
    return Verdict("fits", text)


def best_training(entries: list[Entry]) -> Entry | None:
    """The entry with the highest training accuracy among those neither diverged nor unstable."""
    stable = [
        e
        for e in entries
        if e.status != "diverged" and not _unstable(e) and math.isfinite(e.acc("train").value)
    ]
    return max(stable, key=lambda e: e.acc("train").value, default=None)


def verdicts(entries: list[Entry]) -> dict[str, Verdict]:
    top = best_training(entries)
    return {e.name: verdict(e, top) for e in entries}


@dataclass(frozen=True)
class Selection:
    best: int | None  # index into the entries
    tied: list[int]  # indices whose validation accuracy lies in the best one's interval


def selection(entries: list[Entry]) -> Selection:
    """Best on validation accuracy (first of equals), and the entries tied with it."""
    candidates = [
        i
        for i, e in enumerate(entries)
        if e.status != "diverged" and math.isfinite(e.acc("val").value)
    ]
    if not candidates:
        return Selection(None, [])
    best = max(candidates, key=lambda i: (entries[i].acc("val").value, -i))
    ci = entries[best].acc("val")
    tied = [i for i in candidates if i != best and entries[i].acc("val").value >= ci.lo]
    return Selection(best, tied)


def selection_text(entries: list[Entry], sel: Selection) -> str:
    """One sentence: the best entry and its interval, and the entries it cannot be told from."""
    if sel.best is None:
        if any(math.isfinite(e.acc("val").value) for e in entries):
            return "Every run with a validation set diverged: none is selected."
        return (
            "No run has a validation set, so none is selected (test accuracy is never used "
            "for selection)."
        )
    b = entries[sel.best]
    text = (
        f"Best on validation: `{b.name}` with {pct_ci(b.acc('val'))} "
        f"(n = {count(b.n('val'))}; test {pct_ci(b.acc('test'))})."
    )
    if sel.tied:
        names = ", ".join(
            f"`{entries[i].name}` ({pct(entries[i].acc('val').value, 1)})" for i in sel.tied
        )
        text += (
            f" Tied with it — validation accuracy inside its 95 % interval: {names}; "
            "these validation images cannot tell them apart."
        )
    else:
        text += " No other run lies inside its 95 % interval."
    return text


def repeat_text(entry: Entry) -> str:
    """Mean ± std of a repeat group over its seeds, with the range."""
    parts = []
    for part in ("val", "test"):
        s = entry.spread(part)
        if math.isfinite(s.mean):
            lo = min(r.final(part) for r in entry.runs)
            hi = max(r.final(part) for r in entry.runs)
            std = f" ± {100 * s.std:.2f}" if s.n > 1 else ""
            parts.append(f"{part} {100 * s.mean:.2f}{std} % (range {100 * lo:.2f}–{100 * hi:.2f})")
    seeds = ", ".join(str(r.config.get("seed")) for r in entry.runs)
    return f"`{entry.name}` over {len(entry.runs)} seeds ({seeds}): " + "; ".join(parts) + "."
