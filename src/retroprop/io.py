"""Saving and loading models in a format that runs no code when read.

A retroprop model file is a safetensors file (readable by the ``safetensors``
library too), written and read here with nothing but the standard library and NumPy:

- 8 bytes: the header's length ``N``, little-endian unsigned;
- ``N`` bytes: a JSON header mapping each parameter name (as in ``state_dict``) to
  ``{"dtype": "F64"|"F32", "shape": [...], "data_offsets": [begin, end]}``, plus
  ``"__metadata__": {"format": "retroprop", "retroprop": "<JSON>"}`` where the inner
  JSON holds the architecture, class names, feature names and standardisation;
- the raw little-endian parameter bytes.

Loading trusts nothing: the header's size is bounded by the file's, every offset is
checked, duplicate keys, unknown dtypes, shapes that disagree with the architecture
and non-finite values are refused with ``ModelFileError``. Every layer of the
architecture is validated before the parameters it claims are counted and bounded
by the data the file holds; reading is checked against the memory the process may
use (``engine/memory.py``). What is allocated is bounded by the file's actual size
(a few times it; nothing a header merely claims), and nothing is unpickled or
executed. ``format_version`` must be the integer, names must not repeat, metadata
may nest ``MAX_METADATA_DEPTH`` levels; ``save`` refuses what ``load`` would refuse.
docs/outputs.md says this for users.
"""

from __future__ import annotations

import json
import os
import stat
import struct

import numpy as np

from retroprop.atomic import atomic_write
from retroprop.datasets.preprocessing import Standardizer
from retroprop.engine.layers import Sequential
from retroprop.engine.memory import check_bytes_fit, count_parameters
from retroprop.engine.network import from_config
from retroprop.errors import ConfigError, ModelFileError
from retroprop.i18n import _
from retroprop.model import Model

FORMAT_VERSION = 1
MAX_HEADER = 1 << 20  # 1 MiB of JSON is far more than any MLP's description needs
MAX_METADATA_DEPTH = 32
"""How deeply ``metadata`` may nest (dicts and lists), in ``save`` and ``load``."""
_DTYPES: dict[str, np.dtype] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}
_CODES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32"}


def save(
    model: Model | Sequential,
    path: str | os.PathLike,
    *,
    class_names: list[str] | None = None,
    feature_names: list[str] | None = None,
    standardizer: Standardizer | None = None,
    metadata: dict | None = None,
) -> None:
    """Write ``model`` to ``path`` atomically.

    ``model`` is a ``Model``, or a bare ``Sequential`` with the keyword arguments
    describing its data. Non-finite parameters are refused (``ModelFileError``):
    a diverged network is never saved.
    """
    if isinstance(model, Sequential):
        model = Model(
            net=model,
            class_names=list(class_names or []),
            feature_names=list(feature_names or []),
            standardizer=standardizer,
            metadata=dict(metadata or {}),
        )
    elif not isinstance(model, Model):
        raise ConfigError(
            _("save takes a Model or a Sequential, got {name}").format(
                name=type(model).__name__
            )
        )
    net = model.net
    _check_savable(model)
    state = net.state_dict()
    for name, v in state.items():
        if not np.isfinite(v).all():
            raise ModelFileError(
                _(
                    "parameter {name!r} holds non-finite values; a diverged network is not "
                    "saved (train again with a smaller learning rate)"
                ).format(name=name)
            )
    info = {
        "format_version": FORMAT_VERSION,
        "architecture": net.config(),
        "dtype": str(net.dtype),
        "class_names": list(model.class_names),
        "feature_names": list(model.feature_names),
        "standardizer": None
        if model.standardizer is None
        else model.standardizer.to_dict(),
        "metadata": model.metadata,
    }
    header: dict = {
        "__metadata__": {
            "format": "retroprop",
            "retroprop": json.dumps(info, allow_nan=False),
        }
    }
    blobs, offset = [], 0
    for name, v in state.items():
        raw = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": _CODES[v.dtype],
            "shape": list(v.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # align the data, as safetensors does
    if len(head) > MAX_HEADER:
        raise ConfigError(
            _(
                "the model's header would take {n_head} bytes, more than the "
                "{MAX_HEADER} that load accepts; keep metadata small"
            ).format(n_head=len(head), MAX_HEADER=MAX_HEADER)
        )
    with atomic_write(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def _check_savable(model: Model) -> None:
    """Refuse (``ConfigError``) what ``load`` would refuse, so every saved file loads."""
    net = model.net
    if not isinstance(net, Sequential):
        raise ConfigError(
            _("Model.net must be a Sequential, got {name}").format(
                name=type(net).__name__
            )
        )
    try:
        from_config(net.config(), dtype=net.dtype)
    except (ConfigError, NotImplementedError) as e:
        why = str(e) or f"a module has no config ({e!r})"
        raise ConfigError(
            _("this network cannot be saved: {why}").format(why=why)
        ) from None
    for what, names, n, side in (
        ("class_names", model.class_names, net.out_features, _("outputs")),
        ("feature_names", model.feature_names, net.in_features, _("inputs")),
    ):
        if not isinstance(names, (list, tuple)) or not all(
            isinstance(s, str) for s in names
        ):
            raise ConfigError(
                _(
                    "{what} must be a list of strings, got {names!r} (e.g. [str(c) for c in "
                    "...])"
                ).format(what=what, names=names)
            )
        if names and len(names) != n:
            raise ConfigError(
                _("{what} has {n_names} names for the network's {n} {side}").format(
                    what=what, n_names=len(names), n=n, side=side
                )
            )
        twice = _repeated(names)
        if twice is not None:
            raise ConfigError(
                _("{what} names {twice!r} twice; every name must be different").format(
                    what=what, twice=twice
                )
            )
    sc = model.standardizer
    if sc is not None:
        shape = (net.in_features,)
        mean, scale = sc.mean_, sc.scale_
        if (
            mean is None
            or scale is None
            or np.shape(mean) != shape
            or np.shape(scale) != shape
        ):
            raise ConfigError(
                _("the standardizer must be fitted on {shape} features").format(
                    shape=shape[0]
                )
            )
        if not (
            np.isfinite(mean).all()
            and np.isfinite(scale).all()
            and bool(np.all(scale > 0))
        ):
            raise ConfigError(
                _("the standardizer holds non-finite means or scales, or scales <= 0")
            )
    for name, p in net.named_parameters():
        if p.data.dtype != net.dtype:
            raise ConfigError(
                _(
                    "parameter {name!r} is {dtype}, the network is {dtype2}; every parameter "
                    "must have the network's dtype to be saved"
                ).format(name=name, dtype=p.data.dtype, dtype2=net.dtype)
            )
    if not isinstance(model.metadata, dict):
        raise ConfigError(
            _("metadata must be a dict, got {name}").format(
                name=type(model.metadata).__name__
            )
        )
    depth = _depth(model.metadata)
    if depth > MAX_METADATA_DEPTH:
        raise ConfigError(
            _(
                "metadata nests {depth} levels deep, more than the {MAX_METADATA_DEPTH} "
                "that load accepts; flatten it"
            ).format(depth=depth, MAX_METADATA_DEPTH=MAX_METADATA_DEPTH)
        )
    try:
        same = json.loads(json.dumps(model.metadata, allow_nan=False)) == model.metadata
    except (TypeError, ValueError, RecursionError) as e:
        raise ConfigError(
            _(
                "metadata must be JSON data (dicts, lists, str, int, finite float, bool, "
                "None): {e}"
            ).format(e=e)
        ) from None
    if not same:
        raise ConfigError(
            _(
                "metadata must come back from JSON unchanged: string keys, lists rather "
                "than tuples"
            )
        )


def _depth(obj: object) -> int:
    """How deeply dicts and lists nest in ``obj`` (a scalar is 0); no recursion."""
    deepest = 0
    stack = [(obj, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level + 1)
    return deepest


def _repeated(names: list[str] | tuple[str, ...]) -> str | None:
    seen: set[str] = set()
    for s in names:
        if s in seen:
            return s
        seen.add(s)
    return None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    d = {}
    for k, v in pairs:
        if k in d:
            raise ModelFileError(_("the header has the key {k!r} twice").format(k=k))
        d[k] = v
    return d


def _fail(name: str, why: str) -> ModelFileError:
    return ModelFileError(
        _("{name}: not a valid retroprop model file: {why}").format(name=name, why=why)
    )


def load(path: str | os.PathLike) -> Model:
    """Read a model written by ``save``.

    Raises
    ------
    ModelFileError
        For anything that is not a well-formed retroprop model file, with what is
        wrong, and for a model too large for this process's memory; never another
        exception for a bad file. The file is never executed or unpickled.
    """
    name = os.fspath(path)
    try:
        return _load(name)
    except ModelFileError:
        raise
    except MemoryError:
        raise ModelFileError(
            _("{name}: too large to load in the memory this process can use").format(
                name=name
            )
        ) from None
    except (RecursionError, TypeError, ValueError, KeyError, AttributeError) as e:
        # Each check below should have caught the file first; never let a stranger's
        # file reach the user as a traceback.
        raise _fail(
            name,
            f"{type(e).__name__}: {' '.join(str(e).split())}",
        ) from None


def _load(name: str) -> Model:
    try:
        # A FIFO would block open() until someone writes, a device never ends:
        # only regular files (and folders, refused below by open) get that far.
        mode = os.stat(name).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _fail(name, _("it is not a regular file (a device, pipe or socket)"))
        with open(name, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise _fail(
                    name,
                    _("it is {size} bytes long, too short for a header").format(
                        size=size
                    ),
                )
            (n,) = struct.unpack("<Q", f.read(8))
            if n > min(size - 8, MAX_HEADER):
                raise _fail(
                    name,
                    _(
                        "its header claims {n} bytes, the file holds {size} (limit {limit})"
                    ).format(n=n, size=size - 8, limit=MAX_HEADER),
                )
            head = f.read(n)
            # What reading and building the model holds at once: the file's bytes,
            # the network's zeros and the copied values (all bounded by the file).
            try:
                check_bytes_fit(
                    3 * (size - 8 - n), "loading it", "use a larger machine"
                )
            except ConfigError as e:
                raise ModelFileError(f"{name}: {e}") from None
            data = f.read(size - 8 - n)
    except FileNotFoundError:
        raise ModelFileError(_("{name}: no such file").format(name=name)) from None
    except IsADirectoryError:
        raise ModelFileError(
            _("{name}: is a directory, not a model file").format(name=name)
        ) from None
    except OSError as e:
        raise ModelFileError(
            _("{name}: cannot be read ({strerror})").format(
                name=name, strerror=e.strerror
            )
        ) from None
    if len(head) != n or len(data) != size - 8 - n:
        raise _fail(name, _("the file changed while it was read"))
    if not head.lstrip().startswith(b"{"):
        raise _fail(
            name,
            _(
                "its header is not JSON (is it a pickle or a PyTorch .pt file? retroprop reads only its own .safetensors-style files)"
            ),
        )
    try:
        header = json.loads(
            head.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=lambda c: _reject_constant(name, c),
        )
    except ModelFileError as e:
        raise _fail(name, str(e)) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(name, _("its header is not valid JSON ({e})").format(e=e)) from None
    if not isinstance(header, dict):
        raise _fail(name, _("its header is not a JSON object"))
    meta = header.pop("__metadata__", None)
    if (
        not isinstance(meta, dict)
        or meta.get("format") != "retroprop"
        or not isinstance(meta.get("retroprop"), str)
    ):
        raise _fail(
            name, _("it has no retroprop metadata (a safetensors file from elsewhere?)")
        )
    try:
        info = json.loads(
            meta["retroprop"],
            object_pairs_hook=_no_duplicates,
            parse_constant=lambda c: _reject_constant(name, c),
        )
    except ModelFileError as e:
        raise _fail(name, str(e)) from None
    except (ValueError, RecursionError) as e:
        raise _fail(
            name, _("its metadata is not valid JSON ({e})").format(e=e)
        ) from None
    version = info.get("format_version") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not (
        type(version) is int and version == FORMAT_VERSION  # not true, not 1.0
    ):
        raise _fail(
            name,
            _(
                "unknown format version {version!r} (this retroprop reads version "
                "{supported})"
            ).format(version=info.get("format_version"), supported=FORMAT_VERSION)
            if isinstance(info, dict)
            else _("its metadata is not an object"),
        )
    dtype_name = info.get("dtype")
    dtype = {"float64": np.float64, "float32": np.float32}.get(
        dtype_name if isinstance(dtype_name, str) else ""
    )
    if dtype is None:
        raise _fail(name, _("unknown dtype {dtype!r}").format(dtype=info.get("dtype")))
    # Building the network allocates its parameters: every layer is checked, then
    # the total against the file's data, so a header claiming Linear(10**9, 10**9)
    # (beside a malformed layer or not) is refused before anything is allocated.
    architecture = info.get("architecture")
    try:
        needed = count_parameters(architecture)
    except ConfigError as e:
        raise _fail(name, _("its architecture is invalid: {e}").format(e=e)) from None
    itemsize = np.dtype(dtype).itemsize
    if needed * itemsize > len(data):
        raise _fail(
            name,
            _(
                "its architecture needs {needed} parameters of {itemsize} bytes, more than its {size} bytes of data hold"
            ).format(needed=needed, itemsize=itemsize, size=len(data)),
        )
    try:
        net = from_config(architecture, dtype=dtype)  # type: ignore[arg-type]
    except ConfigError as e:
        raise _fail(name, _("its architecture is invalid: {e}").format(e=e)) from None
    state = _read_tensors(name, header, data)
    own = dict(net.named_parameters())
    if set(own) != set(state):
        raise _fail(
            name,
            _("it holds parameters {held}, the architecture needs {needed}").format(
                held=sorted(state), needed=sorted(own)
            ),
        )
    for pname, p in own.items():
        v = state[pname]
        if v.shape != p.data.shape:
            raise _fail(
                name,
                _(
                    "parameter {pname!r} has shape {shape}, the architecture needs {needed}"
                ).format(pname=pname, shape=v.shape, needed=p.data.shape),
            )
        if v.dtype != np.dtype(dtype).newbyteorder("<"):
            # save writes the network's own dtype; a cast here could overflow
            raise _fail(
                name,
                _(
                    "parameter {pname!r} is stored as {stored}, the model is {dtype}"
                ).format(pname=pname, stored=v.dtype.name, dtype=np.dtype(dtype).name),
            )
        if not np.isfinite(v).all():
            raise _fail(
                name,
                _("parameter {pname!r} holds non-finite values").format(pname=pname),
            )
        p.data = v.astype(dtype)
    class_names = _str_list(name, info.get("class_names", []), "class_names")
    feature_names = _str_list(name, info.get("feature_names", []), "feature_names")
    for what, names in (("class_names", class_names), ("feature_names", feature_names)):
        twice = _repeated(names)
        if twice is not None:
            raise _fail(
                name,
                _("its '{what}' has {twice!r} twice").format(what=what, twice=twice),
            )
    if class_names and len(class_names) != net.out_features:
        raise _fail(
            name,
            _("it names {n} classes for {outputs} outputs").format(
                n=len(class_names), outputs=net.out_features
            ),
        )
    if feature_names and len(feature_names) != net.in_features:
        raise _fail(
            name,
            _("it names {n} features for {inputs} inputs").format(
                n=len(feature_names), inputs=net.in_features
            ),
        )
    standardizer = _read_standardizer(name, info.get("standardizer"), net.in_features)
    metadata = info.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _fail(name, _("its 'metadata' is not an object"))
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise _fail(
            name,
            _("its 'metadata' nests deeper than {depth} levels").format(
                depth=MAX_METADATA_DEPTH
            ),
        )
    return Model(
        net=net,
        class_names=class_names,
        feature_names=feature_names,
        standardizer=standardizer,
        metadata=metadata,
    )


def _reject_constant(name: str, c: str):
    raise ModelFileError(
        _("the header contains {c}, which JSON does not allow").format(c=c)
    )


def _read_tensors(name: str, header: dict, data: bytes) -> dict[str, np.ndarray]:
    spans = []
    out = {}
    for key, spec in header.items():
        if not isinstance(spec, dict) or set(spec) != {
            "dtype",
            "shape",
            "data_offsets",
        }:
            raise _fail(
                name, _("entry {key!r} is not a tensor description").format(key=key)
            )
        dt: np.dtype | None = (
            _DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
        )
        if dt is None:
            raise _fail(
                name,
                _(
                    "entry {key!r} has dtype {dtype!r}; only F64 and F32 are allowed"
                ).format(key=key, dtype=spec["dtype"]),
            )
        shape, offs = spec["shape"], spec["data_offsets"]
        if not (
            isinstance(shape, list)
            and len(shape) <= 2
            and all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31
                for s in shape
            )
        ):
            raise _fail(
                name,
                _("entry {key!r} has an invalid shape {shape!r}").format(
                    key=key, shape=shape
                ),
            )
        if not (
            isinstance(offs, list)
            and len(offs) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
        ):
            raise _fail(
                name,
                _("entry {key!r} has invalid data_offsets {offs!r}").format(
                    key=key, offs=offs
                ),
            )
        begin, end = offs
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= begin <= end <= len(data) or end - begin != count * dt.itemsize:
            raise _fail(
                name,
                _(
                    "entry {key!r} claims bytes {begin}..{end}, which do not fit its shape {shape} or the {size} bytes of data"
                ).format(key=key, begin=begin, end=end, shape=shape, size=len(data)),
            )
        spans.append((begin, end, key))
        out[key] = np.frombuffer(data, dtype=dt, count=count, offset=begin).reshape(
            shape
        )
    pos = 0
    for begin, end, key in sorted(spans):
        if begin != pos:
            raise _fail(
                name,
                _("entry {key!r} overlaps another or leaves a gap").format(key=key),
            )
        pos = end
    if pos != len(data):
        raise _fail(
            name,
            _("{n} bytes after the last tensor are unaccounted for").format(
                n=len(data) - pos
            ),
        )
    return out


def _str_list(name: str, v: object, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise _fail(name, _("its '{what}' is not a list of strings").format(what=what))
    return list(v)


def _read_standardizer(name: str, d: object, n_features: int) -> Standardizer | None:
    if d is None:
        return None
    if not isinstance(d, dict) or set(d) != {"mean", "scale"}:
        raise _fail(name, _("its 'standardizer' must have exactly 'mean' and 'scale'"))
    vals = []
    for k in ("mean", "scale"):
        v = d[k]
        if not (
            isinstance(v, list)
            and len(v) == n_features
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        ):
            raise _fail(
                name,
                _("its standardizer {k!r} must be {n_features} numbers").format(
                    k=k, n_features=n_features
                ),
            )
        try:
            vals.append(np.asarray(v, dtype=np.float64))
        except OverflowError:  # an integer beyond any float
            raise _fail(
                name,
                _("its standardizer {k!r} holds a number too large for a float").format(
                    k=k
                ),
            ) from None
    if not np.isfinite(vals[0]).all() or not (
        np.isfinite(vals[1]).all() and (vals[1] > 0).all()
    ):
        raise _fail(
            name, _("its standardizer holds non-finite or non-positive scale values")
        )
    return Standardizer(vals[0], vals[1])
