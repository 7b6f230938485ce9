"""A progress bar per run (rich), quiet when stderr is not a terminal.

Runs report `(epoch, n_epochs, row)` events; in parallel mode a worker puts
`(run_name, epoch, n_epochs, row)` on a queue that `listen` drains in the main process.
Without a terminal, one plain line is printed per finished run instead.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunProgress:
    def __init__(self, pending: list, skipped: list[str], notes: list[str] = ()) -> None:
        self.console = Console(stderr=True)
        self.interactive = sys.stderr.isatty()
        self.progress = Progress(
            TextColumn("[bold]{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.interactive,
        )
        self.tasks = {
            spec.name: self.progress.add_task(spec.name, total=spec.train.n_epochs, status="")
            for spec in pending
        }
        self.last: dict[str, dict] = {}
        for name in skipped:
            self._line(f"{name}: finished earlier, skipped (use --fresh to retrain)")
        for note in notes:
            self._line(note)

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def callback(self, name: str) -> Callable[..., None]:
        return lambda *event: self.update(name, *event)

    def update(
        self, name: str, epoch: int | str, n_epochs: int = 0, row: dict | None = None
    ) -> None:
        if epoch == "done":
            self.done(name)
            return
        row = row or {}
        retraining = row.get("phase") == "retrain"
        if not retraining:  # the final line describes the run itself, not its retraining
            self.last[name] = row
        val = row.get("val_acc", math.nan)
        status = ("retraining on all data: " if retraining else "") + (
            f"loss {row.get('train_loss', math.nan):.3f}"
        )
        if isinstance(val, float) and not math.isnan(val):
            status += f"  val acc {100 * val:.1f}%"
        self.progress.update(self.tasks[name], completed=epoch, total=n_epochs, status=status)

    def done(self, name: str) -> None:
        row = self.last.get(name, {})
        val = row.get("val_acc", math.nan)
        acc = "" if not isinstance(val, float) or math.isnan(val) else f", val acc {100 * val:.2f}%"
        self._line(f"{name}: done after {row.get('epoch', '?')} epochs{acc}")

    def listen(self, queue) -> None:
        while (event := queue.get()) is not None:
            self.update(*event)

    def _line(self, text: str) -> None:
        if self.interactive:
            self.progress.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)
