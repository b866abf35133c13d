"""The per-sample kernels specialised to one network: its shape written into the code.

``kernels`` reads a network's shape from integer arrays (``spec.Layout``) while it
runs: every loop's length, every module's kind and offset is a value loaded at run
time, and for the lecture's 4-4-3-3 network that bookkeeping costs more than the
arithmetic. ``kernels_for(layout, loss)`` writes ``forward``, ``output_delta``,
``backward`` and ``backward_sgd`` (plain SGD's step in the backward pass) out for
one network instead, with its widths, offsets, activations and loss as constants
(so the compiler unrolls the short loops and drops the branches), and compiles
``kernels.sgd_epoch``, ``train_epoch``, ``evaluate`` and ``train_run`` around
them: the *same source* as the general kernels (read with ``inspect``), so the two
cannot drift. The arithmetic is the general kernels' expression for
expression, in the same order.

The code is written to a file named by its content's hash in ``source_dir()`` (a
user cache folder) and imported from there, so that Numba caches its compiled code
(``cache=True``) and a later process finds it. A file is created once and never
rewritten (its modification time is part of Numba's cache key); processes that
create it at the same time are safe (``os.link`` lets only the first in).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

import numpy as np

from retroprop.fast.spec import LINEAR, Layout

SPECIALISE_MAX = 20_000
"""Networks with more parameters than this run the general kernels: their loops are
long enough that knowing their lengths in advance gains little, and each shape
would otherwise be compiled once more."""

_loaded: dict[tuple, ModuleType] = {}
"""The modules loaded in this process, by network shape and loss."""
_lock = threading.Lock()


def source_dir() -> Path:
    """Where the specialised kernels' source files live: ``RETROPROP_CACHE_DIR``,
    else ``retroprop-kernels`` in ``NUMBA_CACHE_DIR`` when that is set, else the
    user's cache folder (``XDG_CACHE_HOME`` or ``~/.cache``, ``retroprop/kernels``).
    """
    if os.environ.get("RETROPROP_CACHE_DIR"):
        return Path(os.environ["RETROPROP_CACHE_DIR"]) / "kernels"
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]) / "retroprop-kernels"
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else None
    )
    root = Path(base) if base else Path.home() / ".cache"
    return root / "retroprop" / "kernels"


def specialises(layout: Layout) -> bool:
    """Whether ``kernels_for`` writes a kernel for this network (small enough)."""
    return layout.size <= SPECIALISE_MAX


def kernels_for(layout: Layout, loss_code: int) -> ModuleType:
    """A module with ``train_epoch``, ``evaluate`` and ``train_run`` (the general
    kernels' signatures and results) compiled for this network and loss, or the
    general ``kernels`` module itself for a network too large to specialise."""
    from retroprop.fast import kernels

    if not specialises(layout):
        return kernels
    key = (
        loss_code,
        *(
            tuple(a.tolist())
            for a in (layout.kinds, layout.widths, layout.w_off, layout.b_off)
        ),
    )
    with _lock:
        module = _loaded.get(key)
        if module is None:
            text = source(layout, loss_code)
            digest = hashlib.sha256(text.encode()).hexdigest()[:20]
            module = _load(f"retroprop_kernel_{digest}", _write(digest, text))
            _loaded[key] = module
    return module


def _write(digest: str, text: str) -> Path:
    """The source file for ``text``, created if missing (never rewritten)."""
    for folder in (source_dir(), Path(tempfile.gettempdir()) / "retroprop-kernels"):
        path = folder / f"retroprop_kernel_{digest}.py"
        if path.is_file():
            return path
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            try:
                os.link(tmp, path)  # fails if another process got there first
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                if not path.exists():
                    os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return path
        except OSError:
            continue  # not writable: the next folder
    raise OSError("no writable folder for retroprop's compiled kernels")


def _load(name: str, path: Path) -> ModuleType:
    """Import the kernel file at ``path`` as module ``name``, its Numba cache
    checked first (``health``: damaged files removed)."""
    from retroprop.fast.health import cache_dir, check_cache, prepare_numba

    prepare_numba()
    check_cache(cache_dir(path), (name,))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


HEADER = '''"""retroprop's per-sample kernels for one network (generated by
retroprop.fast.codegen; safe to delete: it is written again when needed)."""

import math

import numpy as np
from numba import njit

from retroprop.fast.kernels import (
    CROSS_ENTROPY,
    EVAL_BLOCK,
    EVAL_NOT_FINITE,
    LINEAR,
    LOSS_NOT_FINITE,
    OK,
    STEP_NOT_FINITE,
    activate_many,
    exp,
    has_negative_zero,
    sgd_plain,
    sgd_step,
)

DECORATOR = dict(cache=True, error_model="numpy", inline="always")
'''


def source(layout: Layout, loss_code: int) -> str:
    """The module's Python source for this network and loss."""
    from retroprop.fast import kernels

    parts = [
        HEADER,
        # What the module imports from kernels (exp, sgd_step) is compiled into it:
        # a change there must give a new file (Numba checks only this file's date).
        f"KERNELS_SOURCE = {_kernels_digest()!r}\n",
        _forward(layout),
        _output_delta(layout, loss_code),
        _backward(layout),
        _backward(layout, fused=True),
    ]
    for fn in (
        kernels.sgd_epoch,
        kernels.train_epoch,
        kernels.evaluate,
        kernels.train_run,
    ):
        parts.append(inspect.getsource(fn.py_func))
    return "\n\n".join(parts)


def _kernels_digest() -> str:
    """A hash of ``kernels.py``'s source."""
    from retroprop.fast import kernels

    global _digest
    if _digest is None:
        _digest = hashlib.sha256(inspect.getsource(kernels).encode()).hexdigest()
    return _digest


_digest: str | None = None


def _activation(code: int, z: str, m: int) -> tuple[str, str]:
    """``(statements, value)``: ``f(z)`` for activation ``code`` as
    ``kernels._f`` computes it (module ``m``'s slope for LeakyReLU)."""
    from retroprop.fast import kernels as k

    if code == k.SIGMOID:
        return (
            f"e = math.exp(-abs(np.float64({z})))",
            f"(1.0 if {z} >= 0 else e) / (1.0 + e)",
        )
    if code == k.TANH:
        return "", f"math.tanh({z})"
    if code == k.RELU:
        return "", f"{z} if {z} > 0 else 0.0"
    if code == k.LEAKY:
        return "", f"{z} if {z} > 0 else slopes[{m}] * {z}"
    return "", z


def _derivative(code: int, z: str, a: str, m: int) -> str:
    """``f'(z)`` as ``kernels._f_prime`` computes it."""
    from retroprop.fast import kernels as k

    if code == k.SIGMOID:
        return f"{a} * (1.0 - {a})"
    if code == k.TANH:
        return f"1.0 - {a} * {a}"
    if code == k.RELU:
        return f"1.0 if {z} > 0 else 0.0"
    if code == k.LEAKY:
        return f"1.0 if {z} > 0 else slopes[{m}]"
    return "1.0"


def _ints(a: np.ndarray) -> list[int]:
    return [int(v) for v in a]


def _forward(layout: Layout) -> str:
    kinds, widths = _ints(layout.kinds), _ints(layout.widths)
    w_off, b_off, a_off = _ints(layout.w_off), _ints(layout.b_off), _ints(layout.a_off)
    lines = [
        "@njit(**DECORATOR)",
        "def forward(theta, X, row, A, kinds, widths, w_off, b_off, slopes, a_off):",
        '    """kernels.forward for this network."""',
        f"    for i in range({widths[0]}):",
        "        A[i] = X[row, i]",
    ]
    for m, kind in enumerate(kinds):
        ai, ao, win, wout = a_off[m], a_off[m + 1], widths[m], widths[m + 1]
        if kind == LINEAR:
            wo = w_off[m]
            lines += [
                f"    # module {m}: z_o = sum_i W_oi a_prev_i + b_o",
                f"    for o in range({wout}):",
                f"        s = A[{ai}] * theta[{wo} + o * {win}]",
                f"        for i in range(1, {win}):",
                f"            s += A[{ai} + i] * theta[{wo} + o * {win} + i]",
            ]
            if b_off[m] >= 0:
                lines.append(f"        s += theta[{b_off[m]} + o]")
            lines.append(f"        A[{ao} + o] = s")
        else:
            pre, value = _activation(kind, "z", m)
            lines += [
                f"    # module {m}: a = f(z)",
                f"    for o in range({wout}):",
                f"        z = A[{ai} + o]",
            ]
            if pre:
                lines.append(f"        {pre}")
            lines.append(f"        A[{ao} + o] = {value}")
    return "\n".join(lines) + "\n"


def _output_delta(layout: Layout, loss_code: int) -> str:
    from retroprop.fast import kernels as k

    out0, kk = int(layout.a_off[-2]), int(layout.widths[-1])
    lines = [
        "@njit(**DECORATOR)",
        (
            "def output_delta(A, out0, k, loss_code, yr, T, row, scale, delta, "
            "want_delta=True, want_loss=True):"
        ),
        '    """kernels.output_delta for this network and loss."""',
    ]
    if loss_code == k.CROSS_ENTROPY:
        lines += [
            "    yi = int(yr)",
            f"    mx = A[{out0}]",
            f"    for j in range(1, {kk}):",
            f"        mx = max(mx, A[{out0} + j])",
            "    s = 0.0",
            f"    for j in range({kk}):",
            f"        e = math.exp(A[{out0} + j] - mx)",
            "        if want_delta:",
            "            delta[j] = e",
            "        s += e",
            f"    margin = A[{out0} + yi] - mx",
            "    loss = -(margin - math.log(s)) if want_loss else s - margin",
            "    if not want_delta:",
            "        return loss",
            f"    for j in range({kk}):",
            "        delta[j] = delta[j] / s",
            "    delta[yi] -= 1.0",
        ]
    else:
        lines += [
            "    loss = 0.0",
            f"    for j in range({kk}):",
            f"        d = A[{out0} + j] - T[row, j]",
            "        loss += d * d",
            "        delta[j] = 2.0 * d",
        ]
    lines += [
        "    if scale != 1.0:",
        f"        for j in range({kk}):",
        "            delta[j] /= scale",
        "    return loss",
    ]
    return "\n".join(lines) + "\n"


def _backward(layout: Layout, fused: bool = False) -> str:
    """``backward`` (gradients added into ``G``) or, ``fused``, ``backward_sgd``
    (the new parameters written into ``new_theta``, their finiteness returned)."""
    kinds, widths = _ints(layout.kinds), _ints(layout.widths)
    w_off, b_off, a_off = _ints(layout.w_off), _ints(layout.b_off), _ints(layout.a_off)
    if fused:
        lines = [
            "@njit(**DECORATOR)",
            (
                "def backward_sgd(theta, new_theta, A, delta, delta2, lr, kinds, "
                "widths, w_off, b_off, slopes, a_off):"
            ),
            '    """kernels.backward_sgd for this network."""',
            "    check = 0.0",
        ]
    else:
        lines = [
            "@njit(**DECORATOR)",
            (
                "def backward(theta, G, A, delta, delta2, kinds, widths, w_off, b_off, "
                "slopes, a_off):"
            ),
            '    """kernels.backward for this network."""',
        ]
    header = len(lines)
    for m in range(len(kinds) - 1, -1, -1):
        ai, ao, win, wout = a_off[m], a_off[m + 1], widths[m], widths[m + 1]
        if kinds[m] == LINEAR:
            wo = w_off[m]
            if fused:
                lines += [
                    f"    # module {m}: W_oi - lr delta_o a_prev_i ; b_o - lr delta_o",
                    f"    for o in range({wout}):",
                    "        d = delta[o]",
                    f"        for i in range({win}):",
                    (
                        f"            v = theta[{wo} + o * {win} + i] - lr * "
                        f"(d * A[{ai} + i])"
                    ),
                    f"            new_theta[{wo} + o * {win} + i] = v",
                    "            check += v * 0.0",
                ]
                if b_off[m] >= 0:
                    lines += [
                        f"        v = theta[{b_off[m]} + o] - lr * d",
                        f"        new_theta[{b_off[m]} + o] = v",
                        "        check += v * 0.0",
                    ]
            else:
                lines += [
                    (
                        f"    # module {m}: grad_W_oi += delta_o a_prev_i ; "
                        "grad_b_o += delta_o"
                    ),
                    f"    for o in range({wout}):",
                    "        d = delta[o]",
                    f"        for i in range({win}):",
                    f"            G[{wo} + o * {win} + i] += d * A[{ai} + i]",
                ]
                if b_off[m] >= 0:
                    lines.append(f"        G[{b_off[m]} + o] += d")
            if m > 0:
                lines += [
                    "    # dL/da_prev_i = sum_o delta_o W_oi",
                    f"    for i in range({win}):",
                    "        delta2[i] = 0.0",
                    f"    for o in range({wout}):",
                    "        d = delta[o]",
                    f"        for i in range({win}):",
                    f"            delta2[i] += d * theta[{wo} + o * {win} + i]",
                    f"    for i in range({win}):",
                    "        delta[i] = delta2[i]",
                ]
        else:
            value = _derivative(kinds[m], f"A[{ai} + i]", f"A[{ao} + i]", m)
            lines += [
                f"    # module {m}: delta = delta * f'(z)",
                f"    for i in range({wout}):",
                f"        delta[i] = delta[i] * ({value})",
            ]
    if fused:
        lines.append("    return check == 0.0")
    elif len(lines) == header:
        lines.append("    pass")
    return "\n".join(lines) + "\n"
