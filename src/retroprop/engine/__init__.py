"""The reference engine: backpropagation written out, layer by layer, in NumPy.

Vocabulary, used everywhere in retroprop (the lecture's notation, batch-first):

- ``a_prev``: the previous layer's output, shape ``(n, in)``; for the first layer, ``X``.
- ``z = a_prev @ W.T + b``: a Linear layer's pre-activation, shape ``(n, out)``.
  ``W`` has torch's shape ``(out, in)``: row ``i`` holds neuron ``i``'s weights, which is
  the lecture's ``output_i = w_i . outputs^(layer-1) + b_i``.
- ``a = f(z)``: an activation's output.
- ``delta = dL/dz``: the error signal a layer receives from above in ``backward``.
- ``grad_W = delta.T @ a_prev`` and ``grad_b = delta.sum(0)``: the parameters' gradients,
  accumulated into ``Parameter.grad`` as PyTorch does.
- ``p``: softmax probabilities, ``r``: the true class, ``L = -ln(p_r)``.
- ``lr`` (the lecture's eta): the learning rate of ``w <- w - lr * dL/dw``.

Nothing here builds a graph: every module's ``backward`` is the chain rule for that
module, reading only what its ``forward`` cached.
"""

from retroprop.engine.activations import (
    ACTIVATIONS,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Step,
    Tanh,
    register_activation,
)
from retroprop.engine.init import INITIALISERS
from retroprop.engine.layers import Linear, Module, Parameter, Sequential
from retroprop.engine.losses import (
    LOSSES,
    CrossEntropyLoss,
    Loss,
    MSELoss,
    register_loss,
)
from retroprop.engine.network import from_config, mlp
from retroprop.engine.optim import OPTIMIZERS, SGD

__all__ = [
    "ACTIVATIONS",
    "INITIALISERS",
    "LOSSES",
    "OPTIMIZERS",
    "SGD",
    "Activation",
    "CrossEntropyLoss",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Step",
    "Tanh",
    "from_config",
    "mlp",
    "register_activation",
    "register_loss",
]
