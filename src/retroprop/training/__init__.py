"""What every training loop shares: the step, the callbacks, the checks, the runners.

Below ``retroprop.train`` and ``retroprop.fast`` (they both import from here, never
from each other's internals), above the engine:

- ``step``: ``TrainingStep`` (forward, loss, backward, checked update: one
  iteration, the only place it is written), ``loss_targets``, ``evaluate`` and the
  divergence checks;
- ``callbacks``: ``History``, ``TrainState``, ``Callback`` and the built-in
  callbacks (``EarlyStopping``, ``RecordParameter``, ``ProgressCallback``);
- ``checks``: ``check_xy``, the training data validated at the edge;
- ``runner``: the ``Runner`` interface ``train`` drives epoch by epoch, and
  ``EngineRunner``, the NumPy engine's implementation of it.
"""

from retroprop.training.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ProgressCallback,
    RecordParameter,
    TrainState,
)
from retroprop.training.checks import check_xy
from retroprop.training.runner import ENGINES, EngineRunner, Runner, epoch_order
from retroprop.training.step import (
    TrainingStep,
    check_loss,
    divergence_is_checked,
    evaluate,
    loss_targets,
)

__all__ = [
    "ENGINES",
    "Callback",
    "EarlyStopping",
    "EngineRunner",
    "History",
    "ProgressCallback",
    "RecordParameter",
    "Runner",
    "TrainState",
    "TrainingStep",
    "check_loss",
    "check_xy",
    "divergence_is_checked",
    "epoch_order",
    "evaluate",
    "loss_targets",
]
