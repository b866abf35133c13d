"""retroprop: backpropagation written out in the lecture's equations.

The public names. ``import retroprop as rp`` imports NumPy and nothing heavier;
PyTorch, scikit-learn, matplotlib and Numba load only when a feature needs them.
"""

from retroprop import datasets
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
from retroprop.explain.trace import Trace, explain_step
from retroprop.fast.many import ManyResult, train_many
from retroprop.io import load, save
from retroprop.model import Model
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

__version__ = "0.1.0"


def __getattr__(name: str):
    # rp.Playground needs the playground extra (anywidget): imported on first use
    if name == "Playground":
        from retroprop.playground.widget import Playground

        return Playground
    raise AttributeError(f"module 'retroprop' has no attribute {name!r}")


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
