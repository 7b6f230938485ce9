"""A progress bar per run and a line of counts (rich), plain lines when stderr is not a terminal.

Runs report `(epoch, n_epochs, row)` events; in parallel mode a worker puts
`(run_name, epoch, n_epochs, row)` on a queue that `listen` drains in the main process
(a cluster worker publishes the same tuples on a Dask topic). Two more events: `"started"`
(a worker took the run; sent again when a retried task starts elsewhere) and `"done"`.

The counts row reads `done d · running r · pending p` (p = runs - d - r). Without a
terminal one plain line is printed when a run starts and when it ends, each with the counts.
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
        self.counts = self.progress.add_task("runs", total=len(pending), status="")
        self.tasks = {
            spec.name: self.progress.add_task(spec.name, total=spec.train.n_epochs, status="")
            for spec in pending
        }
        self.last: dict[str, dict] = {}
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self._count()
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

    def state(self) -> str:
        """`done d · running r · pending p` over the runs of this invocation."""
        pending = len(self.tasks) - len(self.finished) - len(self.running)
        return f"done {len(self.finished)} · running {len(self.running)} · pending {pending}"

    def _count(self) -> None:
        self.progress.update(self.counts, completed=len(self.finished), status=self.state())

    def started(self, name: str) -> None:
        if name in self.finished:
            return
        if name not in self.running:
            self.running.add(name)
            self._count()
        self._line(f"{name}: started ({self.state()})", plain_only=True)

    def update(
        self, name: str, epoch: int | str, n_epochs: int = 0, row: dict | None = None
    ) -> None:
        if epoch == "done":
            self.done(name)
            return
        if epoch == "started":
            self.started(name)
            return
        if name not in self.running and name not in self.finished:
            self.running.add(name)  # a run that reports epochs is running, started event or not
            self._count()
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
        self.running.discard(name)
        self.finished.add(name)
        self._count()
        row = self.last.get(name, {})
        val = row.get("val_acc", math.nan)
        acc = "" if not isinstance(val, float) or math.isnan(val) else f", val acc {100 * val:.2f}%"
        self._line(f"{name}: done after {row.get('epoch', '?')} epochs{acc} ({self.state()})")

    def listen(self, queue) -> None:
        while (event := queue.get()) is not None:
            self.update(*event)

    def _line(self, text: str, plain_only: bool = False) -> None:
        if self.interactive and plain_only:
            return  # the bars and the counts row already show it
        if self.interactive:
            self.progress.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)
