"""Parameters, the Module protocol, Linear and Sequential.

``Linear.forward`` and ``Linear.backward`` are the two halves of the lecture's
derivation for one layer; ``Sequential`` runs forward through its modules in order and
backward in reverse, handing each the ``delta`` of the one above.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from retroprop.engine.init import INITIALISERS, as_generator
from retroprop.errors import ConfigError
from retroprop.i18n import _


class Parameter:
    """A trainable array and its gradient, like ``torch.nn.Parameter``.

    Attributes
    ----------
    data : ndarray
        The value.
    grad : ndarray or None
        ``dL/d(data)``, same shape as ``data``; ``None`` until a backward pass
        accumulates into it (and again after ``zero_grad``), as in PyTorch.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.grad: np.ndarray | None = None

    def accumulate(self, g: np.ndarray) -> None:
        """``grad += g`` (gradients add up over backward calls until zeroed)."""
        if self.grad is None:
            self.grad = g.copy()
        else:
            self.grad += g

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: ``forward`` caches, ``backward`` reads the cache.

    ``module(x)`` calls ``forward(x)``. Modules without parameters inherit empty
    parameter listings.
    """

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, delta: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        return iter(())

    def parameters(self) -> list[Parameter]:
        """The trainable parameters, in ``state_dict`` order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget accumulated gradients (set them to None, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def config(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


class Linear(Module):
    """A fully connected layer: ``z = a_prev @ W.T + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of ``a_prev`` and ``z``.
    bias : bool
        Whether the layer has ``b``.
    init : str
        A key of ``INITIALISERS``: ``"torch"`` (default) or ``"glorot"``.
    seed : int, numpy.random.Generator or None
        Randomness for the initial values.
    dtype : numpy dtype
        ``float64`` (default) or ``float32``.

    Attributes
    ----------
    weight : Parameter of shape (out_features, in_features)
    bias : Parameter of shape (out_features,) or None
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: str = "torch",
        seed: int | np.random.Generator | None = None,
        dtype: type | np.dtype = np.float64,
        activation: str | None = None,
    ):
        for what, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ConfigError(
                    _("Linear {what} must be a positive integer, got {v!r}").format(
                        what=what, v=v
                    )
                )
        if init not in INITIALISERS:
            raise ConfigError(
                _("init must be one of {INITIALISERS}, got {init!r}").format(
                    INITIALISERS=sorted(INITIALISERS), init=init
                )
            )
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(
                _("dtype must be float32 or float64, got {dtype}").format(
                    dtype=self.dtype
                )
            )
        W, b = INITIALISERS[init](
            as_generator(seed), self.in_features, self.out_features, activation
        )
        self.weight = Parameter(W.astype(self.dtype))
        self.bias = Parameter(b.astype(self.dtype)) if bias else None

    def forward(self, a_prev: np.ndarray) -> np.ndarray:
        """``z = a_prev @ W.T + b``: ``(n, in_features) -> (n, out_features)``."""
        if a_prev.ndim != 2 or a_prev.shape[1] != self.in_features:
            raise ConfigError(
                _(
                    "Linear({in_features}, {out_features}) expects input of shape (n, "
                    "{in_features}), got {shape}"
                ).format(
                    in_features=self.in_features,
                    out_features=self.out_features,
                    shape=a_prev.shape,
                )
            )
        self.a_prev = a_prev
        z = a_prev @ self.weight.data.T
        if self.bias is not None:
            z += self.bias.data
        return z

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """Given ``delta = dL/dz`` of shape ``(n, out)``, accumulate the gradients.

        ``dL/dW_ij = sum_n delta_ni * a_prev_nj`` (the lecture's
        ``dL/dw_ij = delta_i * out_j^(l-1)``), ``dL/db_i = sum_n delta_ni``
        (``dz_i/db_i = 1``); returns ``dL/da_prev = delta @ W`` of shape ``(n, in)``,
        the error each input neuron receives: ``sum_i w_ij delta_i``.
        """
        self.weight.accumulate(delta.T @ self.a_prev)
        if self.bias is not None:
            self.bias.accumulate(delta.sum(axis=0))
        return delta @ self.weight.data

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias

    def config(self) -> dict:
        return {
            "type": "linear",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
        }

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None})"
        )


class Sequential(Module):
    """Modules applied in order, like ``torch.nn.Sequential``.

    Parameters are named ``"<module name>.<name>"``: by default the module's index
    (``"0.weight"``, ``"0.bias"``, ``"2.weight"``...) exactly as ``torch.nn.Sequential``
    names them; with ``names`` the layers keep the names they came with, as the
    lecture's ``NeuralNetwork`` does (``"fc1.weight"``, ``"fc3.bias"``), so state dicts
    move between the two either way.

    Parameters
    ----------
    *modules : Module
    names : sequence of str, optional
        One name per module (an activation's name is usually its index, ``"1"``);
        different and non-empty. A submodule of a torch model keeps its dotted path
        (``"layers.0"``).
    """

    def __init__(self, *modules: Module, names: Sequence[str] | None = None):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise ConfigError(
                    _("Sequential takes retroprop modules; item {i} is {name}").format(
                        i=i, name=type(m).__name__
                    )
                )
        self.modules: list[Module] = list(modules)
        self.names: list[str] = check_module_names(names, len(self.modules))

    def parameter_name(self, i: int, which: str) -> str:
        """The state-dict name of module ``i``'s ``which`` (``"fc3.bias"``, ``"4.bias"``)."""
        return f"{self.names[i]}.{which}"

    def __getitem__(self, i: int) -> Module:
        return self.modules[i]

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Run every module in order: ``(n, in_features) -> (n, out_features)``.

        ``X`` is converted to the network's dtype; each module caches what its
        ``backward`` needs.
        """
        a = np.asarray(X, dtype=self.dtype)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        for m in self.modules:
            a = m.forward(a)
        return a

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """Walk back from ``dL/d(output)`` through every module; returns ``dL/dX``."""
        for m in reversed(self.modules):
            delta = m.backward(delta)
        return delta

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for prefix, m in zip(self.names, self.modules):
            for name, p in m.named_parameters():
                yield f"{prefix}.{name}", p

    @property
    def linears(self) -> list[Linear]:
        """The Linear layers, in order."""
        return [m for m in self.modules if isinstance(m, Linear)]

    @property
    def dtype(self) -> np.dtype:
        lins = self.linears
        return lins[0].dtype if lins else np.dtype(np.float64)

    @property
    def in_features(self) -> int:
        return self.linears[0].in_features

    @property
    def out_features(self) -> int:
        return self.linears[-1].out_features

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{name: copy of the parameter's array}``, in torch's names and order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy values in from ``{name: array}``; accepts torch tensors as values.

        Every name must match and every shape must agree; nothing is changed unless
        all of them do.
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ConfigError(
                _(
                    "state dict does not match the network: missing {missing}, unexpected "
                    "{unexpected}"
                ).format(missing=missing, unexpected=unexpected)
            )
        new = {}
        for name, p in own.items():
            v = state[name]
            if hasattr(v, "detach"):  # a torch tensor
                v = v.detach().cpu().numpy()
            v = np.array(v, dtype=p.data.dtype, copy=True)
            if v.shape != p.data.shape:
                raise ConfigError(
                    _(
                        "state dict entry {name!r} has shape {shape}, the network's parameter "
                        "has shape {shape2}"
                    ).format(name=name, shape=v.shape, shape2=p.data.shape)
                )
            new[name] = v
        for name, p in own.items():
            p.data = new[name]

    def config(self) -> list[dict]:  # type: ignore[override]  # one dict per module
        """The architecture as plain data (for saving); see ``from_config``."""
        out = []
        for i, (name, m) in enumerate(zip(self.names, self.modules)):
            entry = m.config()
            if name != str(i):  # a name the network came with ("fc1")
                entry = {**entry, "module_name": name}
            out.append(entry)
        return out

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({n}): {m!r}" for n, m in zip(self.names, self.modules))
        return f"Sequential(\n{inner}\n)"

    def summary_rows(self) -> list[list]:
        """One row per module: its name (``fc1``, or its index), module, parameter
        names with their shapes, output shape, parameter count (what the notebook
        display shows)."""
        rows: list[list] = []
        width = self.in_features if self.linears else None
        for name, m in zip(self.names, self.modules):
            params = list(m.named_parameters())
            shapes = ", ".join(f"{name}.{n} {tuple(p.data.shape)}" for n, p in params)
            if isinstance(m, Linear):
                width = m.out_features
            shape = f"(n, {width})" if width is not None else ""
            rows.append(
                [name, repr(m), shapes, shape, sum(p.data.size for _, p in params)]
            )
        return rows

    def _repr_html_(self) -> str:
        """The layers with their shapes and parameter counts."""
        from retroprop.display import html_block, html_table

        rows = self.summary_rows()
        total = sum(r[-1] for r in rows)
        title = _("Sequential: {total} parameters, {dtype} ").format(
            total=total, dtype=self.dtype
        ) + (_("(input (n, {n}))").format(n=self.in_features) if self.linears else "")
        return html_block(
            title,
            html_table(
                ["", _("module"), _("parameters (shape)"), _("output"), _("count")],
                rows,
                numeric=[False, False, False, False, True],
            ),
        )


def check_module_names(names: Sequence[str] | None, n: int) -> list[str]:
    """``names`` as a list of ``n`` module names (default ``"0"``, ``"1"``...).

    Raises ``ConfigError`` naming what is wrong: a count that differs from the
    modules', a name that is not a non-empty string without ``"."``, or a repeat.
    """
    if names is None:
        return [str(i) for i in range(n)]
    if isinstance(names, str):
        raise ConfigError(
            _("names must be a list of strings, got the string {names!r}").format(
                names=names
            )
        )
    out = list(names)
    if len(out) != n:
        raise ConfigError(
            _("names must give one name per module ({n}), got {n_out}").format(
                n=n, n_out=len(out)
            )
        )
    for name in out:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                _("a module name must be a non-empty string, got {name!r}").format(
                    name=name
                )
            )
    twice = sorted({s for s in out if out.count(s) > 1})
    if twice:
        raise ConfigError(
            _("module names must differ; {twice} appear more than once").format(
                twice=twice
            )
        )
    return out
