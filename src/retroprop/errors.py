"""The exceptions retroprop raises on purpose, one type per kind of failure.

Each is a ``ValueError`` or ``ArithmeticError`` subclass so that callers who catch the
standard types keep working; the command line turns every one into a one-line message.
"""

from __future__ import annotations

import math


def num(x: float) -> str:
    """A number short enough for a message: 6 significant digits, scientific
    notation for huge and tiny ones (``1e+302``, never 300 digits)."""
    x = float(x)
    return f"{x:g}" if math.isfinite(x) else str(x)


class RetropropError(Exception):
    """Base of every error retroprop raises on purpose."""


class DataError(RetropropError, ValueError):
    """A data file or array cannot be used: the message names the file, row and column."""


class ModelFileError(RetropropError, ValueError):
    """A model file is malformed, truncated, hostile or does not match its architecture."""


class ConfigError(RetropropError, ValueError):
    """A parameter has a value outside what it accepts: the message lists what it does."""


class NotDifferentiableError(RetropropError, ValueError):
    """Backpropagation was asked to go through a function with no useful derivative."""


class DivergenceError(RetropropError, ArithmeticError):
    """Training diverged (``retroprop.training.divergence`` defines when).

    Attributes
    ----------
    epoch, iteration : int
        Where it happened (both 1-based; ``iteration`` counts updates from the start).
    lr : float
        The learning rate the caller gave (never a float32-rounded copy of it).
    what : str
        What went wrong, e.g. ``"the loss became nan"``.
    history : History or None
        The epochs measured before, when ``train`` raised it.
    """

    def __init__(
        self,
        message: str,
        *,
        epoch: int = 0,
        iteration: int = 0,
        lr: float = math.nan,
        what: str = "",
    ):
        # Defaults only so that pickle (a worker process sending it back) can call
        # cls(message); the real values come back with the instance's __dict__.
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
        self.lr = lr
        self.what = what or message
        self.history: object = None

    @classmethod
    def at(
        cls,
        epoch: int,
        iteration: int,
        lr: float,
        what: str,
        *,
        advice: str | None = None,
        kept: bool = True,
    ) -> DivergenceError:
        """The error every training path raises: where it happened, what went wrong
        (``what``, e.g. ``"the loss became nan"``) and what to do: ``advice``, or
        by default a smaller eta; ``kept``: the step refused the update, so the
        parameters are the last finite ones. Huge and tiny numbers print in
        scientific notation."""
        from retroprop.i18n import _

        if advice is None:
            advice = _("Try a smaller learning rate (eta), e.g. lr={lr}").format(
                lr=num(lr / 10)
            )
        kept_words = _("; the last finite parameters were kept") if kept else ""
        return cls(
            _(
                "training diverged at epoch {epoch}, iteration {iteration} with "
                "lr={lr}: {what}{kept}. {advice}"
            ).format(
                epoch=epoch,
                iteration=iteration,
                lr=num(lr),
                what=what,
                kept=kept_words,
                advice=advice,
            ),
            epoch=epoch,
            iteration=iteration,
            lr=lr,
            what=what,
        )
