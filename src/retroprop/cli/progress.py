"""One progress bar for every command: rich, on stderr, and only on a terminal.

``ProgressBar`` is a context manager with ``update(description, done, total, info)``;
when ``--quiet`` is given or stderr is not a terminal (a log, a pipe, a test) it draws
nothing at all, not even a blank line. ``EpochProgress`` is the training loop's side:
a ``retroprop.train.Callback`` that moves the bar after every epoch, with the loss.
The library never prints; this is the command line's own.
"""

from __future__ import annotations

import math
import sys
from types import TracebackType
from typing import Any

from retroprop.display import fmt
from retroprop.train import Callback, TrainState


class ProgressBar:
    """``with ProgressBar(quiet) as bar: bar.update("training", 3, 100)``."""

    def __init__(self, quiet: bool = False):
        self.enabled = not quiet and sys.stderr.isatty()
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            from retroprop.cli.common import stderr_console

            self._progress = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                console=stderr_console(),
                transient=True,
            )
            self._progress.start()
        return self

    def update(self, description: str, done: int, total: int, info: str = "") -> None:
        """Show ``done`` of ``total`` on the line named ``description``."""
        if self._progress is None:
            return
        if description not in self._tasks:
            self._tasks[description] = self._progress.add_task(
                description, total=total, info=info
            )
        self._progress.update(
            self._tasks[description], completed=done, total=total, info=info
        )

    def epochs(self, epochs: int, description: str = "training") -> EpochProgress:
        """A training callback that moves this bar after each of ``epochs`` epochs."""
        return EpochProgress(self, epochs, description)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class EpochProgress(Callback):
    """Moves a ``ProgressBar`` after every epoch: epoch ``k`` of ``epochs``, the loss.

    Epoch-level only, so the compiled training paths still apply; a compiled whole
    run moves it at intervals (``progress_only``).
    """

    progress_only = True

    def __init__(self, bar: ProgressBar, epochs: int, description: str = "training"):
        self.bar, self.epochs, self.description = bar, epochs, description

    def on_epoch_end(self, state: TrainState) -> None:
        history = state.history
        loss = history.loss[-1] if history is not None and history.loss else math.nan
        self.bar.update(
            self.description, state.epoch, self.epochs, f"loss {fmt(loss, decimals=4)}"
        )
