"""PyTorch import and export: the same network, the same numbers, in either library.

``to_torch(net)`` builds a ``torch.nn.Sequential`` whose modules sit at the same
indices as retroprop's, so the two state dicts have the same names and values.
``from_torch(module)`` reads an ``nn.Sequential`` or any ``nn.Module`` whose forward is
a chain of ``nn.Linear`` layers and supported activations (modules such as
``nn.Sigmoid`` or functions such as ``torch.sigmoid``), traced with ``torch.fx``.

Both read the activations' own counterparts from ``ACTIVATIONS``: each class names
its ``torch.nn`` module (``torch``), the torch functions and tensor methods that are
it (``torch_functions``, ``torch_methods``) and its settings (``param_names``, the
module's and the function's keyword arguments of the same name). A registered
activation with ``torch = "Softplus"`` goes both ways with no change here.

PyTorch is imported inside the functions; ``TorchNotInstalledError`` says how to
install it when it is missing.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import numpy as np

from retroprop.engine.activations import ACTIVATIONS, Activation
from retroprop.engine.layers import Linear, Module, Sequential
from retroprop.errors import ConfigError, ModelFileError, RetropropError
from retroprop.i18n import _

INSTALL_TORCH = "pip install \"torch==2.13.0\"  (or: pip install 'retroprop[torch]')"


class TorchNotInstalledError(RetropropError, ImportError):
    """PyTorch is needed for this and is not installed; the message says how."""


def import_torch():
    """``import torch``, or ``TorchNotInstalledError`` with the install command."""
    try:
        import torch
    except ImportError:
        raise TorchNotInstalledError(
            _("PyTorch is not installed; install it with: {INSTALL_TORCH}").format(
                INSTALL_TORCH=INSTALL_TORCH
            )
        ) from None
    return torch


def torch_module_name(cls: type[Activation]) -> str | None:
    """The ``torch.nn`` class an activation class names itself (``"Sigmoid"``), or
    None. Not inherited: a subclass that changes ``f`` is not its parent in torch."""
    return cls.__dict__.get("torch")


def _with_torch() -> list[type[Activation]]:
    """The registered activation classes that have a torch module, in order."""
    return [c for c in ACTIVATIONS.values() if torch_module_name(c)]


_TORCH_DTYPES = {np.dtype(np.float64): "float64", np.dtype(np.float32): "float32"}


def to_torch(net: Sequential):
    """The same network as a ``torch.nn.Sequential``, with copies of the parameters.

    Parameters
    ----------
    net : retroprop Sequential
        Linear layers and activations whose class names a ``torch`` module.

    Returns
    -------
    torch.nn.Sequential
        Module ``i`` is retroprop's module ``i``, under its name (``fc1`` for a
        network named so, else ``"0"``, ``"1"``...); weights of shape ``(out, in)`` in
        the network's dtype (float64 or float32), so ``state_dict()`` names and values
        agree with ``net.state_dict()``.
    """
    torch = import_torch()
    if not isinstance(net, Sequential):
        raise ConfigError(
            _("to_torch takes a retroprop Sequential, got {name}").format(
                name=type(net).__name__
            )
        )
    dtype = getattr(torch, _TORCH_DTYPES[net.dtype])
    modules = []
    for i, m in enumerate(net):
        if isinstance(m, Linear):
            lin = torch.nn.Linear(
                m.in_features, m.out_features, bias=m.bias is not None, dtype=dtype
            )
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(m.weight.data.copy()))
                if m.bias is not None:
                    lin.bias.copy_(torch.from_numpy(m.bias.data.copy()))
            modules.append(lin)
        elif isinstance(m, Activation) and torch_module_name(type(m)):
            cls = getattr(torch.nn, str(torch_module_name(type(m))))
            modules.append(cls(**m.params()))
        else:
            raise ConfigError(
                _(
                    "module {i} ({m!r}) has no PyTorch counterpart (set the class's torch "
                    "attribute to a torch.nn class name); supported: Linear, {value}"
                ).format(i=i, m=m, value=", ".join(c.__name__ for c in _with_torch()))
            )
    if net.names == [str(i) for i in range(len(net))]:
        return torch.nn.Sequential(*modules)
    from collections import OrderedDict

    # the layers keep their names ("fc1"); torch's module names cannot hold "."
    keys = [name.replace(".", "_") for name in net.names]
    return torch.nn.Sequential(OrderedDict(zip(keys, modules)))


def _resolve(torch, dotted: str) -> Any:
    """``"torch.nn.functional.sigmoid"`` -> the object, or None if this torch lacks it."""
    obj: Any = torch
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _function_table(torch) -> dict[Any, type[Activation]]:
    """Functions a traced forward may call -> activation class."""
    table: dict[Any, type[Activation]] = {}
    for cls in ACTIVATIONS.values():
        for dotted in cls.__dict__.get("torch_functions", ()):
            fn = _resolve(torch, dotted)
            if fn is not None:
                table.setdefault(fn, cls)
    return table


def _method_table() -> dict[str, type[Activation]]:
    """Tensor methods a traced forward may call (``x.sigmoid()``) -> class."""
    table: dict[str, type[Activation]] = {}
    for cls in ACTIVATIONS.values():
        for name in cls.__dict__.get("torch_methods", ()):
            table.setdefault(name, cls)
    return table


def _describe_supported() -> str:
    modules = ", ".join(f"nn.{torch_module_name(c)}" for c in _with_torch())
    functions = ", ".join(
        f for c in ACTIVATIONS.values() for f in c.__dict__.get("torch_functions", ())
    )
    methods = ", ".join(f".{m}()" for m in _method_table())
    return (
        f"nn.Linear, {modules}, {functions} and the tensor methods {methods}"
        if methods
        else f"nn.Linear, {modules}, {functions}"
    )


def from_torch(module, dtype: type | np.dtype | None = None) -> Sequential:
    """A retroprop Sequential equal to a PyTorch model made of Linear layers.

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential``, or a module whose ``forward`` applies Linear layers and
        activations one after the other (like the lecture's ``NeuralNetwork`` with
        ``torch.sigmoid(self.fc1(x))``); it is traced with ``torch.fx``.
    dtype : float64 or float32, optional
        Defaults to the dtype of the Linear layers' parameters.

    Returns
    -------
    Sequential
        ``Linear`` for each ``nn.Linear`` (weights copied, shape ``(out, in)``) and
        the matching activation for each activation, in the order of the forward.

    Raises
    ------
    ConfigError
        Naming the layer or operation that retroprop cannot represent.
    """
    torch = import_torch()
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(
            _("from_torch takes a torch.nn.Module, got {name}").format(
                name=type(module).__name__
            )
        )
    steps = _trace(torch, module)
    modules: list[Module] = []
    linears = [m for kind, m, _ in steps if kind == "linear"]
    if not linears:
        raise ConfigError(
            _("{name} has no nn.Linear layer").format(name=type(module).__name__)
        )
    dtypes = {lin.weight.dtype for lin in linears}
    if dtype is None:
        if len(dtypes) != 1 or str(next(iter(dtypes))).replace("torch.", "") not in (
            "float32",
            "float64",
        ):
            raise ConfigError(
                _(
                    "the Linear layers must all be float32 or all float64, got {value}; "
                    "convert with model.double()"
                ).format(value=sorted(str(d) for d in dtypes))
            )
        dtype = np.dtype(str(next(iter(dtypes))).replace("torch.", ""))
    names: list[str] = []
    for kind, m, where in steps:
        # a submodule keeps its name in the model ("fc1", or "0" in a Sequential);
        # an activation called as a function is named by its position
        names.append(where[len("layer ") :].strip("'") if kind == "linear" else "")
        if kind == "linear":
            lin = Linear(
                m.in_features,
                m.out_features,
                bias=m.bias is not None,
                seed=0,
                dtype=dtype,
            )
            lin.weight.data = m.weight.detach().cpu().numpy().astype(dtype, copy=True)
            if m.bias is not None and lin.bias is not None:
                lin.bias.data = m.bias.detach().cpu().numpy().astype(dtype, copy=True)
            modules.append(lin)
        else:
            modules.append(m)  # the activation, built by _trace
    taken = set(names)
    for i, name in enumerate(names):
        if not name:
            names[i] = str(i) if str(i) not in taken else f"{i}_activation"
    net = Sequential(*modules, names=names)
    for a, b in zip(net.linears[:-1], net.linears[1:]):
        if a.out_features != b.in_features:
            raise ConfigError(
                _(
                    "the layers do not chain: Linear({in_features}, {out_features}) feeds "
                    "Linear({in_features2}, {out_features2})"
                ).format(
                    in_features=a.in_features,
                    out_features=a.out_features,
                    in_features2=b.in_features,
                    out_features2=b.out_features,
                )
            )
    return net


def _trace(torch, module) -> list[tuple[str, Any, str]]:
    """The forward as a list of ``(kind, payload, where)``: kind is ``"linear"``
    (payload: the nn.Linear) or ``"activation"`` (payload: the retroprop
    activation, its settings read from the torch module or call)."""
    from torch import fx

    try:
        graph = fx.symbolic_trace(module).graph
    except Exception as e:  # noqa: BLE001 - tracing runs the user's own forward
        raise ConfigError(
            _(
                "cannot trace {name}.forward with torch.fx ({name2}: {value}); retroprop "
                "supports a forward that applies {value2} one after the other"
            ).format(
                name=type(module).__name__,
                name2=type(e).__name__,
                value=" ".join(str(e).split()),
                value2=_describe_supported(),
            )
        ) from None
    functions = _function_table(torch)
    methods = _method_table()
    steps: list[tuple[str, Any, str]] = []
    current = None  # the node whose value flows along the chain
    for node in graph.nodes:
        if node.op == "placeholder":
            if current is not None:
                raise ConfigError(
                    _(
                        "{name}.forward takes more than one input ({name2!r}); retroprop "
                        "networks take one"
                    ).format(name=type(module).__name__, name2=node.name)
                )
            current = node
            continue
        if node.op == "output":
            if node.args[0] is not current:
                raise ConfigError(
                    _(
                        "{name}.forward returns {args!r}, not the end of a single chain of layers"
                    ).format(name=type(module).__name__, args=node.args[0])
                )
            break
        where = _where(node)
        inputs = list(node.all_input_nodes)
        if inputs != [current]:
            raise ConfigError(
                _(
                    "{where} does not take the previous layer's output as its only input; "
                    "retroprop supports a plain chain of layers"
                ).format(where=where)
            )
        if node.op == "call_module":
            sub = module.get_submodule(node.target)
            if isinstance(sub, torch.nn.Linear) and any(s[1] is sub for s in steps):
                raise ConfigError(
                    _(
                        "{where} is applied twice (shared weights); retroprop layers each own "
                        "their parameters"
                    ).format(where=where)
                )
            steps.append(_module_step(torch, sub, where))
        elif node.op == "call_function" and node.target in functions:
            steps.append(
                ("activation", _from_call(functions[node.target], node, where), where)
            )
        elif node.op == "call_method" and node.target in methods:
            steps.append(
                ("activation", _from_call(methods[node.target], node, where), where)
            )
        else:
            raise ConfigError(
                _("{where} is not supported; retroprop supports {value}").format(
                    where=where, value=_describe_supported()
                )
            )
        current = node
    return steps


def _where(node) -> str:
    if node.op == "call_module":
        return f"layer {node.target!r}"
    target = getattr(node.target, "__name__", node.target)
    kind = "method" if node.op == "call_method" else "operation"
    return f"{kind} {target!r} (node {node.name!r})"


def _from_call(cls: type[Activation], node, where: str) -> Activation:
    """The activation a torch function call is: positional arguments after the input
    and keyword arguments are the class's ``param_names`` (``inplace`` is ignored)."""
    names = cls.param_names
    if len(node.args) > 1 + len(names) or any(
        k != "inplace" and k not in names for k in node.kwargs
    ):
        raise ConfigError(
            _("{where} has arguments retroprop does not support").format(where=where)
        )
    params = dict(zip(names, node.args[1:]))
    params.update({k: v for k, v in node.kwargs.items() if k in names})
    return cls(**{k: float(v) for k, v in params.items()})


def _module_step(torch, sub, where: str) -> tuple[str, Any, str]:
    nn = torch.nn
    if isinstance(sub, nn.Linear):
        return ("linear", sub, where)
    for cls in _with_torch():
        torch_cls = getattr(nn, str(torch_module_name(cls)), None)
        if torch_cls is not None and isinstance(sub, torch_cls):
            params = {k: float(getattr(sub, k)) for k in cls.param_names}
            return ("activation", cls(**params), where)
    raise ConfigError(
        _(
            "{where} is a {name}, which retroprop does not support; supported: {value}"
        ).format(where=where, name=type(sub).__name__, value=_describe_supported())
    )


def import_class(spec: str) -> type:
    """``"module:Class"`` -> the class, importing ``module`` from sys.path or the cwd."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            _("expected MODULE:CLASS like mynet:NeuralNetwork, got {spec!r}").format(
                spec=spec
            )
        )
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # as `python -m` would; only for this import
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            _("cannot import module {module_name!r} (from {spec!r}): {e}").format(
                module_name=module_name, spec=spec, e=e
            )
        ) from None
    except Exception as e:  # noqa: BLE001 - the user's module may raise anything
        raise ConfigError(
            _(
                "importing module {module_name!r} (from {spec!r}) failed: {name}: {value}"
            ).format(
                module_name=module_name,
                spec=spec,
                name=type(e).__name__,
                value=" ".join(str(e).split())[:200],
            )
        ) from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(
                _("module {module_name!r} has no attribute {attr!r}").format(
                    module_name=module_name, attr=attr
                )
            )
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ConfigError(_("{spec!r} is not a class").format(spec=spec))
    return obj


def load_torch_model(path: str | os.PathLike, class_spec: str) -> Sequential:
    """A PyTorch user's model, as a retroprop network.

    Parameters
    ----------
    path : path
        A state dict saved with ``torch.save(model.state_dict(), path)``; loaded with
        ``weights_only=True`` (no code in the file runs).
    class_spec : str
        ``"module:Class"``: the model's class, constructed without arguments.

    Returns
    -------
    Sequential
        ``from_torch`` of the model with the file's weights.
    """
    torch = import_torch()
    cls = import_class(class_spec)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ConfigError(
            _("{class_spec!r} is not a torch.nn.Module subclass").format(
                class_spec=class_spec
            )
        )
    try:
        model = cls()
    except Exception as e:  # noqa: BLE001 - the user's constructor may raise anything
        raise ConfigError(
            _("cannot construct {class_spec} without arguments: {e}").format(
                class_spec=class_spec, e=e
            )
        ) from None
    name = os.fspath(path)
    try:
        state = torch.load(name, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(_("{name}: no such file").format(name=name)) from None
    except IsADirectoryError:
        raise ModelFileError(
            _("{name}: is a directory, not a model file").format(name=name)
        ) from None
    except Exception as e:  # noqa: BLE001 - torch.load's errors have no common base
        raise ModelFileError(
            _(
                "{name}: not a PyTorch file that loads with weights_only=True ({name2}: "
                "{value})"
            ).format(
                name=name, name2=type(e).__name__, value=" ".join(str(e).split())[:200]
            )
        ) from None
    if not isinstance(state, dict):
        raise ModelFileError(
            _(
                "{name}: holds a {name2}, not a state dict; save it with "
                "torch.save(model.state_dict(), {name!r})"
            ).format(name=name, name2=type(state).__name__)
        )
    for key, value in state.items():
        # NaN or inf weights are the file's fault, not a later update's.
        if (
            isinstance(value, torch.Tensor)
            and value.is_floating_point()
            and not bool(torch.isfinite(value).all())
        ):
            raise ModelFileError(
                _(
                    "{name}: {key!r} holds non-finite values (NaN or inf); the file is "
                    "damaged or was saved from a diverged model"
                ).format(name=name, key=key)
            )
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(
            _("{name}: the state dict does not fit {class_spec}: {value}").format(
                name=name, class_spec=class_spec, value=" ".join(str(e).split())
            )
        ) from None
    return from_torch(model)
