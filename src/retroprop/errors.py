"""The exceptions retroprop raises on purpose, one type per kind of failure.

Each is a ``ValueError`` or ``ArithmeticError`` subclass so that callers who catch the
standard types keep working; the command line turns every one into a one-line message.
"""

from __future__ import annotations


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
    """Training produced a non-finite loss or parameter; the last finite ones were kept.

    Attributes
    ----------
    epoch, iteration : int
        Where it happened (both 1-based; ``iteration`` counts updates from the start).
    lr : float
        The learning rate in use.
    """

    def __init__(self, message: str, *, epoch: int, iteration: int, lr: float):
        super().__init__(message)
        self.epoch = epoch
        self.iteration = iteration
        self.lr = lr

    @classmethod
    def at(cls, epoch: int, iteration: int, lr: float, what: str) -> DivergenceError:
        """The error every training path raises: where it happened, what became
        non-finite (``what``, e.g. ``"the loss became nan"``) and the eta to try."""
        return cls(
            f"training diverged at epoch {epoch}, iteration {iteration} with "
            f"lr={lr:g}: {what}; the last finite parameters were kept. Try a smaller "
            f"learning rate (eta), e.g. lr={lr / 10:g}",
            epoch=epoch,
            iteration=iteration,
            lr=lr,
        )
