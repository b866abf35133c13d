"""Will it fit? Memory a network needs, against what this machine lets the process use.

A network of 15,000 x 15,000 weights is 1.8 GB in float64; training holds it several
times over (parameters, gradients, an update's temporaries). Allocating that where it
does not fit ends in an out-of-memory kill with no message, so the builders
(``mlp``, ``from_config``) and the model loader ask here first, and a request that
cannot fit is a one-line ``ConfigError`` before anything is allocated.

What the process may use is the smallest of: the cgroup's limit less its current use
(``/sys/fs/cgroup/.../memory.max``, or cgroup v1's ``memory.limit_in_bytes``), the
address-space limit less the current size (``RLIMIT_AS``, ``ulimit -v``), and the
memory the kernel calls available plus free swap (``/proc/meminfo``).
"""

from __future__ import annotations

import os

import numpy as np

from retroprop.errors import ConfigError
from retroprop.i18n import _

CHECK_ABOVE = 64 * 2**20
"""Requests below this many bytes (64 MiB) are not checked: they fit anywhere."""

TRAINING_COPIES = 3
"""Copies of the parameters training holds at once: the values, their gradients and
an update's temporary (``lr * grad``). Momentum adds a fourth, beyond this estimate."""


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None  # "max": no limit


def _stat_field(path: str, name: str) -> int:
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0


def _room(
    folder: str, limit_file: str, usage_file: str, cache_field: str
) -> int | None:
    """Limit less the working set (use less reclaimable page cache), as cAdvisor."""
    limit = _number(_read(os.path.join(folder, limit_file)))
    if limit is None or limit >= 2**60:  # "max", or cgroup v1's "no limit"
        return None
    used = _number(_read(os.path.join(folder, usage_file))) or 0
    cache = _stat_field(os.path.join(folder, "memory.stat"), cache_field)
    return limit - max(used - cache, 0)


def _cgroup_room() -> int | None:
    """The cgroup's limit less its use, the tightest along the hierarchy (v2, v1)."""
    rooms = []
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            roots = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            files = ("memory.max", "memory.current", "inactive_file")
        elif "memory" in parts[1].split(","):
            roots = ["/sys/fs/cgroup/memory"]
            files = (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        else:
            continue
        for root in roots:
            rel = parts[2].strip().lstrip("/")
            while True:  # up to the root: a parent's limit binds too
                room = _room(os.path.join(root, rel), *files)
                if room is not None:
                    rooms.append(room)
                if not rel:
                    break
                rel = os.path.dirname(rel)
    return min(rooms) if rooms else None


def _address_space_room() -> int | None:
    """``RLIMIT_AS`` less the process's current virtual size."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    size = 0
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("VmSize:"):
            size = int(line.split()[1]) * 1024
    return soft - size


def _available_room() -> int | None:
    """MemAvailable plus SwapFree from ``/proc/meminfo``."""
    fields = {}
    for line in (_read("/proc/meminfo") or "").splitlines():
        name, _, rest = line.partition(":")
        if rest.split():
            fields[name] = int(rest.split()[0]) * 1024
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0)


def available_memory() -> tuple[int, str] | None:
    """``(bytes, where the limit comes from)``: the most this process can still
    allocate, or None when nothing says."""
    found = [
        (room, source)
        for room, source in (
            (_cgroup_room(), "the cgroup's memory.max"),
            (_address_space_room(), "the address-space limit (RLIMIT_AS, ulimit -v)"),
            (_available_room(), "the memory available (/proc/meminfo)"),
        )
        if room is not None
    ]
    if not found:
        return None
    room, source = min(found)
    return max(room, 0), source


def format_bytes(n: int | float) -> str:
    """``5.4 GB``, ``1.42 GB``, ``840 kB``: decimal units, three digits."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"


def check_bytes_fit(need: int, what: str, fix: str) -> None:
    """Refuse (``ConfigError``) ``need`` bytes when this process cannot allocate them.

    The message reads ``"{what} needs about N GB, more than ...; {fix}"``.
    """
    if need < CHECK_ABOVE:
        return
    room = available_memory()
    if room is None or need <= room[0]:
        return
    raise ConfigError(
        _(
            "{what} needs about {value}, more than the {value2} this process can use "
            "({room}); {fix}"
        ).format(
            what=what,
            value=format_bytes(need),
            value2=format_bytes(room[0]),
            room=room[1],
            fix=fix,
        )
    )


def check_fits_in_memory(
    n_params: int, dtype: type | np.dtype, what: str, *, copies: int = 1
) -> None:
    """Refuse (``ConfigError``) ``n_params`` values of ``dtype``, held ``copies``
    times, when this process cannot allocate that much.

    Parameters
    ----------
    n_params : int
        Numbers to hold (any size: a Python int does not overflow).
    dtype : numpy dtype
        Their type; its item size gives the bytes.
    what : str
        What needs them, for the message (e.g. ``"the network 4-15000-15000-3"``).
    copies : int
        How many times they are held at once (``TRAINING_COPIES`` for training).
    """
    name = np.dtype(dtype).name
    held = name if copies == 1 else f"{name}, held {copies} times for training"
    check_bytes_fit(
        int(n_params) * np.dtype(dtype).itemsize * int(copies),
        f"{what} has {int(n_params):,} parameters ({held}) and",
        "use smaller layers",
    )


def count_parameters(config: object) -> int:
    """The parameters an architecture (``Sequential.config()``) claims, checked first.

    Every linear layer's sizes are validated before anything is counted, so one
    malformed layer cannot hide the size of another: ``ConfigError`` names it.
    """
    if not isinstance(config, list) or not config:
        raise ConfigError(_("the architecture must be a non-empty list of layers"))
    total = 0
    for i, entry in enumerate(config):
        if not isinstance(entry, dict):
            raise ConfigError(
                _("layer {i} of the architecture is not an object").format(i=i)
            )
        kind = entry.get("type")
        if kind == "activation":
            continue
        if kind != "linear":
            raise ConfigError(
                _(
                    "layer {i}: unknown layer type {kind!r}; known: linear, activation"
                ).format(i=i, kind=kind)
            )
        sizes = []
        for key in ("in_features", "out_features"):
            v = entry.get(key)
            if v is None:
                raise ConfigError(
                    _("layer {i} (linear) has no {key!r}").format(i=i, key=key)
                )
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(
                    _(
                        "layer {i} (linear): {key} must be a positive integer, got {v!r}"
                    ).format(i=i, key=key, v=v)
                )
            sizes.append(int(v))
        bias = entry.get("bias", True)
        if not isinstance(bias, bool):
            raise ConfigError(
                _("layer {i} (linear): 'bias' must be true or false").format(i=i)
            )
        total += sizes[0] * sizes[1] + (sizes[1] if bias else 0)
    return total
