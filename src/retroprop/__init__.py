"""retroprop: backpropagation written out in the lecture's equations.

The public names. ``import retroprop as rp`` imports NumPy, the engine and
``train``, and nothing heavier; the rest of the public names (datasets, files, the
explain trace, ``train_many``, ``Model``) are imported on first use (PEP 562), and
PyTorch, scikit-learn, matplotlib and Numba only when a feature needs them.
"""

from typing import TYPE_CHECKING

from retroprop.engine import (
    ACTIVATIONS,
    INITIALISERS,
    LOSSES,
    OPTIMIZERS,
    SGD,
    Activation,
    CrossEntropyLoss,
    Identity,
    LeakyReLU,
    Linear,
    Loss,
    Module,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Step,
    Tanh,
    from_config,
    mlp,
    register_activation,
    register_loss,
)
from retroprop.errors import (
    ConfigError,
    DataError,
    DivergenceError,
    ModelFileError,
    NotDifferentiableError,
    RetropropError,
)
from retroprop.train import (
    Callback,
    EarlyStopping,
    History,
    RecordParameter,
    TrainState,
    evaluate,
    predict,
    predict_proba,
    train,
)

if TYPE_CHECKING:  # imported on first use (``__getattr__``)
    from retroprop import datasets
    from retroprop.explain.trace import Trace, explain_step
    from retroprop.fast.many import ManyResult, train_many
    from retroprop.io import load, save
    from retroprop.model import Model
    from retroprop.playground.widget import Playground  # noqa: F401 - not in __all__

_LAZY = {
    "datasets": ("retroprop.datasets", None),
    "Trace": ("retroprop.explain.trace", "Trace"),
    "explain_step": ("retroprop.explain.trace", "explain_step"),
    "ManyResult": ("retroprop.fast.many", "ManyResult"),
    "train_many": ("retroprop.fast.many", "train_many"),
    "load": ("retroprop.io", "load"),
    "save": ("retroprop.io", "save"),
    "Model": ("retroprop.model", "Model"),
    # rp.Playground needs the playground extra (anywidget)
    "Playground": ("retroprop.playground.widget", "Playground"),
}
"""Public name -> (module, attribute), imported when first asked for."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """The names of ``_LAZY``, imported on first use (then kept in the module)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'retroprop' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ACTIVATIONS",
    "INITIALISERS",
    "LOSSES",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "Callback",
    "ConfigError",
    "CrossEntropyLoss",
    "DataError",
    "DivergenceError",
    "EarlyStopping",
    "History",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "ManyResult",
    "Model",
    "ModelFileError",
    "Module",
    "NotDifferentiableError",
    "Parameter",
    "ReLU",
    "RecordParameter",
    "RetropropError",
    "Sequential",
    "Sigmoid",
    "Step",
    "Tanh",
    "Trace",
    "TrainState",
    "datasets",
    "evaluate",
    "explain_step",
    "from_config",
    "load",
    "mlp",
    "predict",
    "predict_proba",
    "register_activation",
    "register_loss",
    "save",
    "train",
    "train_many",
]
