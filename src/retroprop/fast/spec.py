"""Which networks and settings the fast paths handle, and the network as plain arrays.

``fast_reason`` says why a training run cannot take a fast path (or returns None when
it can). ``Layout`` describes a Sequential of Linear layers and activations as
integer arrays (module kinds, widths, offsets into one flat parameter vector) that
compiled kernels can read; it is built from the network, never by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from retroprop.engine.activations import ACTIVATIONS, Activation
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES
from retroprop.training.callbacks import acts_per_iteration, recorded_by_runner

LINEAR = 0
"""The module kind of a Linear layer; activations use their class's ``kernel_code``."""


def kernel_code(cls: type) -> int | None:
    """The compiled-kernel code a class defines itself (never an inherited one: a
    subclass that changes ``f`` must not run its parent's kernel), or None."""
    code = cls.__dict__.get("kernel_code")
    return None if code is None else int(code)


def code_of(cls: type) -> int:
    """``kernel_code(cls)`` for a class that has one (the kernels' constants)."""
    code = kernel_code(cls)
    if code is None:  # pragma: no cover - only for classes the kernels know
        raise ValueError(f"{cls.__name__} has no kernel_code")
    return code


ACTIVATION_CODES = {
    name: code for name, cls in ACTIVATIONS.items() if (code := kernel_code(cls))
}
"""Built-in activation name -> the code compiled kernels switch on, read from the
classes (``Sigmoid.kernel_code``...)."""

LOSS_CODES = {
    name: code for name, cls in LOSSES.items() if (code := kernel_code(cls)) is not None
}
"""Built-in loss name -> the code compiled kernels switch on (``kernel_code``)."""


def numba_available() -> bool:
    """Whether Numba is installed (it is the ``fast`` extra): found, not imported
    (importing it takes a quarter of a second, which a first run on the NumPy
    engine does not need)."""
    import importlib.util

    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # a broken install
        return False


def fast_reason(
    net: Sequential,
    *,
    loss: str,
    optimizer: str,
    callbacks=(),
    y: np.ndarray | None = None,
    check_numba: bool = True,
) -> str | None:
    """Why ``train`` cannot take a fast path here, or None when it can.

    The fast paths handle a Sequential of Linear layers and differentiable
    activations, cross-entropy or MSE, SGD (any momentum, dampening, weight decay,
    Nesterov), and callbacks that only act per epoch (``RecordParameter`` too: the
    fast paths record the parameter themselves). ``check_numba=False`` leaves
    out the one check that imports Numba.
    """
    for i, m in enumerate(net):
        if isinstance(m, Linear):
            continue
        if not isinstance(m, Activation):
            return f"module {i} ({type(m).__name__}) has no compiled kernel"
        if kernel_code(type(m)) is None:
            if any(kernel_code(c) is not None for c in type(m).__mro__[1:]):
                return (
                    f"module {i} is a subclass ({type(m).__name__}) of a known "
                    f"activation; it trains on the NumPy engine"
                )
            return (
                f"activation {m.name!r} has no compiled kernel; it trains on the "
                f"NumPy engine"
            )
    if not net.linears:
        return "the network has no Linear layer"
    if loss not in LOSSES or kernel_code(LOSSES[loss]) is None:
        return f"loss {loss!r} has no compiled kernel; it trains on the NumPy engine"
    if optimizer != "sgd":
        return f"optimizer {optimizer!r} has no compiled kernel"
    for cb in callbacks:
        if acts_per_iteration(cb) and not recorded_by_runner(cb):
            return f"callback {type(cb).__name__} acts on every iteration"
    if (
        y is not None
        and LOSSES[loss].target == "class"
        and not np.issubdtype(np.asarray(y).dtype, np.integer)
    ):
        return f"loss {loss!r} needs integer classes"
    if check_numba and not numba_available():
        return "numba is not installed (pip install 'retroprop[fast]')"
    return None


@dataclass
class Layout:
    """A Sequential as arrays.

    Attributes
    ----------
    kinds : int64 array of shape (M,)
        ``LINEAR`` or an activation code, one per module.
    widths : int64 array of shape (M + 1,)
        ``widths[0]`` the input width, ``widths[m + 1]`` module m's output width.
    w_off, b_off : int64 arrays of shape (M,)
        Offsets of module m's weight (shape ``(out, in)``, row-major) and bias in the
        flat parameter vector; -1 where there is none.
    slopes : float64 array of shape (M,)
        The activation's ``kernel_argument()``: LeakyReLU's negative slope (0
        elsewhere).
    a_off : int64 array of shape (M + 2,)
        Offsets of each module's output in one per-sample activation buffer
        (``a_off[0]`` is the input).
    names, shapes : the parameters' state-dict names and shapes, in flat order.
    size : int
        Number of parameters.
    """

    kinds: np.ndarray
    widths: np.ndarray
    w_off: np.ndarray
    b_off: np.ndarray
    slopes: np.ndarray
    a_off: np.ndarray
    names: list[str]
    shapes: list[tuple[int, ...]]
    offsets: list[int]
    size: int

    @property
    def arch(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(kinds, widths, w_off, b_off, slopes, a_off)``: the network's shape as
        every per-sample kernel takes it, in that order."""
        return (
            self.kinds,
            self.widths,
            self.w_off,
            self.b_off,
            self.slopes,
            self.a_off,
        )

    @classmethod
    def of(cls, net: Sequential) -> Layout:
        kinds, widths, w_off, b_off, slopes = [], [net.in_features], [], [], []
        names, shapes, offsets = [], [], []
        size = 0
        for i, m in enumerate(net):
            if isinstance(m, Linear):
                kinds.append(LINEAR)
                widths.append(m.out_features)
                w_off.append(size)
                names.append(net.parameter_name(i, "weight"))
                shapes.append(m.weight.data.shape)
                offsets.append(size)
                size += m.weight.data.size
                if m.bias is not None:
                    b_off.append(size)
                    names.append(net.parameter_name(i, "bias"))
                    shapes.append(m.bias.data.shape)
                    offsets.append(size)
                    size += m.bias.data.size
                else:
                    b_off.append(-1)
                slopes.append(0.0)
            else:
                assert isinstance(m, Activation)  # fast_reason lets only these by
                kinds.append(code_of(type(m)))
                widths.append(widths[-1])
                w_off.append(-1)
                b_off.append(-1)
                slopes.append(m.kernel_argument())
        a_off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        return cls(
            np.array(kinds, np.int64),
            np.array(widths, np.int64),
            np.array(w_off, np.int64),
            np.array(b_off, np.int64),
            np.array(slopes, np.float64),
            a_off,
            names,
            shapes,
            offsets,
            size,
        )

    def flatten(self, net: Sequential, out: np.ndarray | None = None) -> np.ndarray:
        """The network's parameters as one vector of shape ``(size,)``."""
        if out is None:
            out = np.empty(self.size, dtype=net.dtype)
        params = dict(net.named_parameters())
        for name, off in zip(self.names, self.offsets):
            v = params[name].data
            out[off : off + v.size] = v.ravel()
        return out

    def indices(self, name: str) -> np.ndarray:
        """The positions of parameter ``name``'s values in the flat vector (empty
        for a name the network does not have)."""
        if name not in self.names:
            return np.zeros(0, dtype=np.int64)
        i = self.names.index(name)
        size = math.prod(self.shapes[i])
        return np.arange(self.offsets[i], self.offsets[i] + size, dtype=np.int64)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """``{name: view of flat}`` with each parameter's shape (works on stacked
        ``(N, size)`` too, giving ``(N, *shape)``)."""
        lead = flat.shape[:-1]
        return {
            name: flat[..., off : off + math.prod(shape)].reshape(*lead, *shape)
            for name, shape, off in zip(self.names, self.shapes, self.offsets)
        }
