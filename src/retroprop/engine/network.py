"""Building networks: ``mlp`` for the usual stack, ``from_config`` for a saved one."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from retroprop.engine.activations import ACTIVATIONS
from retroprop.engine.init import INITIALISERS, as_generator
from retroprop.engine.layers import Linear, Module, Sequential
from retroprop.engine.memory import (
    TRAINING_COPIES,
    check_fits_in_memory,
    count_parameters,
)
from retroprop.errors import ConfigError
from retroprop.i18n import _


def mlp(
    sizes: Sequence[int],
    activation: str = "sigmoid",
    *,
    output_activation: str | None = None,
    init: str = "torch",
    seed: int | np.random.Generator | None = 0,
    dtype: type | np.dtype = np.float64,
    names: Sequence[str] | None = None,
) -> Sequential:
    """A multilayer perceptron ``Linear, f, Linear, f, ..., Linear``.

    ``mlp([4, 4, 3, 3])`` is the lecture's Iris network: ``Linear(4, 4), Sigmoid(),
    Linear(4, 3), Sigmoid(), Linear(3, 3)``, whose outputs are logits.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from the inputs to the outputs; at least two.
    activation : str
        Hidden activation, a key of ``ACTIVATIONS``.
    output_activation : str or None
        Activation after the last layer (None: logits, for ``CrossEntropyLoss``).
    init : str
        A key of ``INITIALISERS``.
    seed : int, numpy.random.Generator or None
        Randomness for every layer's initial values, drawn layer by layer.
    dtype : float64 (default) or float32
    names : sequence of str, optional
        Names of the Linear layers, one per layer (``["fc1", "fc2", "fc3"]`` as in
        the lecture's PyTorch class): the parameters become ``"fc1.weight"``...;
        the activations are named by their index. Default: every module by its
        index (``"0.weight"``, ``"2.weight"``...), as ``torch.nn.Sequential``.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
        for s in sizes
    ):
        raise ConfigError(
            _(
                "sizes must be at least two positive integers (inputs, ..., outputs), "
                "got {sizes}"
            ).format(sizes=sizes)
        )
    for what, name in (
        ("activation", activation),
        ("output_activation", output_activation),
    ):
        if name is not None and name not in ACTIVATIONS:
            raise ConfigError(
                _("{what} must be one of {ACTIVATIONS}, got {name!r}").format(
                    what=what, ACTIVATIONS=sorted(ACTIVATIONS), name=name
                )
            )
    if init not in INITIALISERS:
        raise ConfigError(
            _("init must be one of {INITIALISERS}, got {init!r}").format(
                INITIALISERS=sorted(INITIALISERS), init=init
            )
        )
    check_fits_in_memory(
        sum(int(i) * int(o) + int(o) for i, o in itertools.pairwise(sizes)),
        dtype,
        f"the network {'-'.join(map(str, sizes))}",
        copies=TRAINING_COPIES,  # mlp builds networks to train them
    )
    if names is not None and (
        isinstance(names, str) or len(list(names)) != len(sizes) - 1
    ):
        raise ConfigError(
            _(
                "names must give one name per Linear layer ({value} for sizes {sizes}), "
                "got {names!r}"
            ).format(value=len(sizes) - 1, sizes=sizes, names=names)
        )
    rng = as_generator(seed)
    modules: list[Module] = []
    module_names: list[str] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        module_names.append(list(names)[i] if names is not None else str(len(modules)))
        modules.append(
            Linear(
                fan_in, fan_out, init=init, seed=rng, dtype=dtype, activation=activation
            )
        )
        last = i == len(sizes) - 2
        name = output_activation if last else activation
        if name is not None:
            module_names.append(str(len(modules)))
            modules.append(ACTIVATIONS[name]())
    return Sequential(*modules, names=module_names)


def _finite_number(v: object) -> bool:
    """A real int or float (not a bool) that is finite as a float."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    try:
        return bool(np.isfinite(float(v)))
    except OverflowError:  # an int beyond any float
        return False


def from_config(config: list[dict], dtype: type | np.dtype = np.float64) -> Sequential:
    """Rebuild a Sequential from ``Sequential.config()``; parameters start at zero.

    Raises ``ConfigError`` naming the entry that is not understood.
    """
    if not isinstance(config, list) or not config:
        raise ConfigError(_("the architecture must be a non-empty list of layers"))
    # Every layer's sizes checked, then the total against memory, before allocating.
    check_fits_in_memory(count_parameters(config), dtype, "the architecture")
    modules: list[Module] = []
    names: list[str] = []
    for i, entry in enumerate(config):
        if not isinstance(entry, dict):
            raise ConfigError(
                _("layer {i} of the architecture is not an object").format(i=i)
            )
        module_name = entry.get("module_name", str(i))  # as it came: "fc1"
        if not isinstance(module_name, str):
            raise ConfigError(
                _(
                    "layer {i}: its module_name must be a string, got {module_name!r}"
                ).format(i=i, module_name=module_name)
            )
        names.append(module_name)
        kind = entry.get("type")
        if kind == "linear":
            try:
                fi, fo = entry["in_features"], entry["out_features"]
                bias = entry.get("bias", True)
            except KeyError as e:
                raise ConfigError(
                    _("layer {i} (linear) has no {args!r}").format(i=i, args=e.args[0])
                ) from None
            if not isinstance(bias, bool):
                raise ConfigError(
                    _("layer {i} (linear): 'bias' must be true or false").format(i=i)
                )
            lin = Linear(fi, fo, bias=bias, seed=0, dtype=dtype)
            for p in lin.parameters():
                p.data = np.zeros_like(p.data)
            modules.append(lin)
        elif kind == "activation":
            name = entry.get("name")
            if not isinstance(name, str) or name not in ACTIVATIONS:
                raise ConfigError(
                    _(
                        "layer {i}: unknown activation {name!r}; known: {ACTIVATIONS}"
                    ).format(i=i, name=name, ACTIVATIONS=sorted(ACTIVATIONS))
                )
            cls = ACTIVATIONS[name]
            params = {}
            for key in cls.param_names:  # LeakyReLU's negative_slope
                if key not in entry:
                    continue
                if not _finite_number(entry[key]):
                    raise ConfigError(
                        _("layer {i}: {key} must be a finite number").format(
                            i=i, key=key
                        )
                    )
                params[key] = entry[key]
            modules.append(cls(**params))
        else:
            raise ConfigError(
                _(
                    "layer {i}: unknown layer type {kind!r}; known: linear, activation"
                ).format(i=i, kind=kind)
            )
    lins = [m for m in modules if isinstance(m, Linear)]
    if not lins:
        raise ConfigError(_("the architecture has no linear layer"))
    for a, b in itertools.pairwise(lins):
        if a.out_features != b.in_features:
            raise ConfigError(
                _(
                    "the architecture does not chain: a layer of {out_features} outputs "
                    "feeds one of {in_features} inputs"
                ).format(out_features=a.out_features, in_features=b.in_features)
            )
    return Sequential(*modules, names=names)
