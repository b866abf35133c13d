"""Model files from strangers: every malformed or hostile file is one ModelFileError.

The corpus is generated here from a valid file (nothing binary is committed): empty,
truncated, lying headers, bad JSON, mismatched shapes, unknown activations, NaN
weights, duplicate keys, bad offsets, pickles (one that would create a file when
unpickled), a real PyTorch .pt, NumPy .npy/.npz, deep nesting and gigantic claimed
shapes. Each must raise ``rp.ModelFileError`` with a one-line message naming the file;
any other exception, a crash or an allocation far beyond the file's size fails.
"""

from __future__ import annotations

import copy
import json
import pickle
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli import main


def _valid_model() -> rp.Model:
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=0)
    scaler = rp.datasets.Standardizer(np.zeros(4), np.ones(4))
    return rp.Model(
        net,
        class_names=["a", "b", "c"],
        feature_names=list("wxyz"),
        standardizer=scaler,
        metadata={"lr": 0.05},
    )


def _split(raw: bytes) -> tuple[dict, dict, bytes]:
    """A valid file's (header without metadata, inner info, data)."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    info = json.loads(header["__metadata__"]["retroprop"])
    return header, info, raw[8 + n :]


def _assemble(
    header: dict | bytes,
    data: bytes,
    info: dict | str | None = None,
    n: int | None = None,
) -> bytes:
    if info is not None and isinstance(header, dict):
        header = copy.deepcopy(header)
        header["__metadata__"]["retroprop"] = (
            info if isinstance(info, str) else json.dumps(info)
        )
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(head) if n is None else n) + head + data


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("valid") / "m.safetensors"
    rp.save(_valid_model(), path)
    raw = path.read_bytes()
    rp.load(path)  # the base of every mutation is itself valid
    return raw


def _with(
    mutate: Callable[[dict, dict, bytearray], object],
) -> Callable[[bytes], bytes]:
    """A corpus entry: mutate (header, info, data) of the valid file in place."""

    def build(raw: bytes) -> bytes:
        header, info, data = _split(raw)
        data = bytearray(data)
        original = header["__metadata__"]["retroprop"]
        out = mutate(header, info, data)
        if isinstance(out, bytes):
            return out
        if header["__metadata__"].get("retroprop") != original:
            return _assemble(header, bytes(data))  # the mutation wrote it itself
        return _assemble(header, bytes(data), info)

    return build


def _set_arch(i: int, **fields):
    return _with(lambda h, info, d: info["architecture"][i].update(fields))


def _nan_weight(value: float):
    def mutate(h, info, d):
        d[0:8] = struct.pack("<d", value)

    return _with(mutate)


def _duplicate_tensor_key(h, info, d):
    text = json.dumps(h)
    entry = json.dumps({"0.bias": h["0.bias"]})[1:-1]
    return _assemble(text[:-1].encode() + b"," + entry.encode() + b"}", bytes(d))


def _duplicate_info_key(h, info, d):
    inner = json.dumps(info)
    h["__metadata__"]["retroprop"] = inner[:-1] + ', "dtype": "float32"}'
    return _assemble(h, bytes(d))


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


class _MakesAFile:
    """Unpickling this would create ``path`` (harmless, and detectable)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickle_payload(path: Path) -> bytes:
    return pickle.dumps({"0.weight": _MakesAFile(str(path))}, protocol=4)


# name -> function of the valid file's bytes giving the hostile file's bytes
CORPUS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda raw: b"",
    "seven bytes": lambda raw: raw[:7],
    "only the size": lambda raw: raw[:8],
    "size 2**63": lambda raw: struct.pack("<Q", 2**63) + raw[8:],
    "size 2**64-1": lambda raw: b"\xff" * 8 + raw[8:],
    "size one past the file": lambda raw: struct.pack("<Q", len(raw) - 7) + raw[8:],
    "size 2 MiB in a 2 MiB file": lambda raw: (
        struct.pack("<Q", 2 << 20) + b"{" + b" " * (2 << 20)
    ),
    "header is not JSON": lambda raw: _assemble(b"{not json", b""),
    "header is a JSON list": lambda raw: _assemble(b"[1, 2, 3]", b""),
    "header is a JSON string": lambda raw: _assemble(b'"x"', b""),
    "header not UTF-8": lambda raw: _assemble(b'{"\xff\xfe": 1}', b""),
    "header with NaN": lambda raw: _assemble(b'{"x": NaN}', b""),
    "header with Infinity": lambda raw: _assemble(b'{"x": -Infinity}', b""),
    "header deeply nested": lambda raw: _assemble(
        b'{"x": ' + _deep(100_000).encode() + b"}", b""
    ),
    "metadata deeply nested": _with(
        lambda h, info, d: h["__metadata__"].update(retroprop=_deep(50_000))
    ),
    "metadata not JSON": _with(
        lambda h, info, d: h["__metadata__"].update(retroprop="{oops")
    ),
    "metadata a list": _with(
        lambda h, info, d: h["__metadata__"].update(retroprop="[]")
    ),
    "metadata not a string": _with(
        lambda h, info, d: h["__metadata__"].update(retroprop={"format_version": 1})
    ),
    "no retroprop metadata (foreign safetensors)": _with(
        lambda h, info, d: _assemble(
            {k: v for k, v in h.items() if k != "__metadata__"}, bytes(d)
        )
    ),
    "metadata says another format": _with(
        lambda h, info, d: h["__metadata__"].update(format="pt")
    ),
    "future format version": _with(lambda h, info, d: info.update(format_version=2)),
    "format version a list": _with(lambda h, info, d: info.update(format_version=[1])),
    "unknown dtype": _with(lambda h, info, d: info.update(dtype="float16")),
    "dtype a list": _with(lambda h, info, d: info.update(dtype=["float64"])),
    "tensor dtype F16": _with(lambda h, info, d: h["0.bias"].update(dtype="F16")),
    "tensor dtype a list": _with(lambda h, info, d: h["0.bias"].update(dtype=["F64"])),
    "tensor dtype an object": _with(lambda h, info, d: h["0.bias"].update(dtype={})),
    "tensor entry a number": _with(lambda h, info, d: h.update({"0.bias": 3})),
    "tensor entry with extra field": _with(lambda h, info, d: h["0.bias"].update(x=1)),
    "architecture missing": _with(lambda h, info, d: info.pop("architecture")),
    "architecture empty": _with(lambda h, info, d: info.update(architecture=[])),
    "architecture a string": _with(lambda h, info, d: info.update(architecture="mlp")),
    "architecture entry a number": _with(
        lambda h, info, d: info["architecture"].append(7)
    ),
    "unknown activation": _set_arch(1, name="swish"),
    "activation name a list": _set_arch(1, name=["sigmoid"]),
    "activation name null": _set_arch(1, name=None),
    "unknown layer type": _set_arch(0, type="conv2d"),
    "layer type a list": _set_arch(0, type=["linear"]),
    "in_features a string": _set_arch(0, in_features="4"),
    "in_features a float": _set_arch(0, in_features=4.0),
    "in_features negative": _set_arch(0, in_features=-4),
    "in_features zero": _set_arch(0, in_features=0),
    "in_features true": _set_arch(0, in_features=True),
    "bias a string": _set_arch(0, bias="yes"),
    "layers that do not chain": _set_arch(2, in_features=5),
    "leaky slope huge int": _with(
        lambda h, info, d: info["architecture"].__setitem__(
            1, {"type": "activation", "name": "leaky_relu", "negative_slope": 10**400}
        )
    ),
    "leaky slope a string": _with(
        lambda h, info, d: info["architecture"].__setitem__(
            1, {"type": "activation", "name": "leaky_relu", "negative_slope": "0.1"}
        )
    ),
    "gigantic architecture, small data": _set_arch(
        0, in_features=10**9, out_features=10**9
    ),
    "huge architecture, small data": _set_arch(0, in_features=10**6),
    "astronomic architecture": _set_arch(0, in_features=10**100),
    "shape disagrees with architecture": _with(
        lambda h, info, d: h["0.weight"].update(shape=[2, 8])
    ),
    "shape transposed": _with(lambda h, info, d: h["2.weight"].update(shape=[4, 3])),
    "shape 3-D": _with(lambda h, info, d: h["0.weight"].update(shape=[2, 2, 4])),
    "shape negative": _with(lambda h, info, d: h["0.weight"].update(shape=[-4, -4])),
    "shape floats": _with(lambda h, info, d: h["0.weight"].update(shape=[4.0, 4.0])),
    "shape a string": _with(lambda h, info, d: h["0.weight"].update(shape="4,4")),
    "gigantic shape, small data": _with(
        lambda h, info, d: h["0.weight"].update(shape=[2**31 - 1, 2**31 - 1])
    ),
    "gigantic shape and offsets": _with(
        lambda h, info, d: h["0.weight"].update(
            shape=[2**31 - 1, 2**31 - 1], data_offsets=[0, 8 * (2**31 - 1) ** 2]
        )
    ),
    "offsets out of range": _with(
        lambda h, info, d: h["4.bias"].update(data_offsets=[352, 10**6])
    ),
    "offsets past 2**64": _with(
        lambda h, info, d: h["4.bias"].update(data_offsets=[2**64, 2**64 + 24])
    ),
    "offsets negative": _with(
        lambda h, info, d: h["0.bias"].update(data_offsets=[-32, 0])
    ),
    "offsets reversed": _with(
        lambda h, info, d: h["0.bias"].update(data_offsets=[160, 128])
    ),
    "offsets overlapping": _with(
        lambda h, info, d: h["0.bias"].update(data_offsets=[96, 128])
    ),
    "offsets one number": _with(
        lambda h, info, d: h["0.bias"].update(data_offsets=[128])
    ),
    "offsets strings": _with(
        lambda h, info, d: h["0.bias"].update(data_offsets=["128", "160"])
    ),
    "two tensors share bytes": _with(
        lambda h, info, d: h["4.bias"].update(data_offsets=[256, 280])
    ),
    "extra bytes after the data": _with(lambda h, info, d: d.extend(b"\0" * 8)),
    "missing tensor": _with(lambda h, info, d: h.pop("4.bias")),
    "unexpected tensor": _with(
        lambda h, info, d: (
            h.update(
                {"9.weight": {"dtype": "F64", "shape": [1], "data_offsets": [376, 384]}}
            ),
            d.extend(b"\0" * 8),
        )
    ),
    "NaN weight": _nan_weight(float("nan")),
    # finite as float64, inf once cast to the float32 the metadata declares
    "1e300 weight in a float32 model": _with(
        lambda h, info, d: (
            info.update(dtype="float32"),
            d.__setitem__(slice(0, 8), struct.pack("<d", 1e300)),
        )
    ),
    "tensor dtype disagrees with the model's": _with(
        lambda h, info, d: info.update(dtype="float32")
    ),
    "inf weight": _nan_weight(float("inf")),
    "-inf weight": _nan_weight(float("-inf")),
    "duplicate tensor key": _with(_duplicate_tensor_key),
    "duplicate metadata key": _with(_duplicate_info_key),
    "class names not strings": _with(
        lambda h, info, d: info.update(class_names=[1, 2, 3])
    ),
    "class names a string": _with(lambda h, info, d: info.update(class_names="abc")),
    "class names wrong count": _with(lambda h, info, d: info.update(class_names=["a"])),
    "feature names wrong count": _with(
        lambda h, info, d: info.update(feature_names=["w"])
    ),
    "standardizer a list": _with(lambda h, info, d: info.update(standardizer=[0, 1])),
    "standardizer wrong length": _with(
        lambda h, info, d: info["standardizer"].update(mean=[0.0])
    ),
    "standardizer zero scale": _with(
        lambda h, info, d: info["standardizer"].update(scale=[1.0, 0.0, 1.0, 1.0])
    ),
    "standardizer 1e400": _with(
        lambda h, info, d: h["__metadata__"].update(
            retroprop=json.dumps(info).replace('"mean": [0.0', '"mean": [1e400')
        )
    ),
    "standardizer huge int": _with(
        lambda h, info, d: info["standardizer"].update(mean=[10**400, 0, 0, 0])
    ),
    "standardizer strings": _with(
        lambda h, info, d: info["standardizer"].update(mean=["0"] * 4)
    ),
    "metadata not an object": _with(lambda h, info, d: info.update(metadata=[1])),
    "int with 5000 digits": _with(
        lambda h, info, d: h["__metadata__"].update(
            retroprop=json.dumps(info).replace(
                '"format_version": 1', '"format_version": ' + "1" * 5000
            )
        )
    ),
    "a zip file": lambda raw: b"PK\x03\x04" + b"\0" * 200,
    "random bytes": lambda raw: np.random.default_rng(0).bytes(4096),
    "a NumPy .npy": lambda raw: _npy(np.arange(6.0).reshape(2, 3)),
    "an object .npy": lambda raw: _npy(
        np.array([{"a": 1}, None], dtype=object), allow_pickle=True
    ),
    "a NumPy .npz": lambda raw: _npz(weight=np.ones((4, 4)), bias=np.zeros(4)),
    "a pickle of the state dict": lambda raw: pickle.dumps(
        _valid_model().net.state_dict()
    ),
    "a pickle of the whole model": lambda raw: pickle.dumps(_valid_model()),
}


def _npy(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _refused(path: Path) -> rp.ModelFileError:
    with pytest.raises(rp.ModelFileError) as info:
        rp.load(path)
    msg = str(info.value)
    assert msg and "\n" not in msg
    assert str(path) in msg
    return info.value


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_file_is_refused_with_one_error_type(valid, tmp_path, case):
    path = tmp_path / "hostile.safetensors"
    content = CORPUS[case](valid)
    assert content != valid
    path.write_bytes(content)
    _refused(path)


def test_every_truncation_is_refused(valid, tmp_path):
    path = tmp_path / "cut.safetensors"
    for end in range(len(valid)):  # every offset, from 0 bytes to one short
        path.write_bytes(valid[:end])
        _refused(path)


def test_a_malicious_pickle_is_never_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"
    payload = _pickle_payload(sentinel)
    # The payload is real: unpickling it does create the sentinel.
    probe = tmp_path / "probe"
    pickle.loads(_pickle_payload(probe))
    assert probe.exists()
    for name in ("m.safetensors", "m.pkl", "m.pt"):
        path = tmp_path / name
        path.write_bytes(payload)
        err = _refused(path)
        assert "pickle" in str(err)
    assert not sentinel.exists()


def test_a_pytorch_file_is_refused_and_not_executed(tmp_path):
    torch = pytest.importorskip("torch")
    sentinel = tmp_path / "pwned"
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 3)
    )
    for name, obj in (
        ("state.pt", net.state_dict()),
        ("whole.pt", net),
        ("hostile.pt", {"x": _MakesAFile(str(sentinel))}),
    ):
        path = tmp_path / name
        torch.save(obj, path)
        _refused(path)
        legacy = tmp_path / ("legacy_" + name)
        torch.save(obj, legacy, _use_new_zipfile_serialization=False)
        _refused(legacy)
    assert not sentinel.exists()


def test_not_a_file(tmp_path):
    _refused(tmp_path / "missing.safetensors")
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    _refused(folder)


@pytest.mark.parametrize(
    "case",
    [
        "gigantic architecture, small data",
        "huge architecture, small data",
        "gigantic shape, small data",
        "gigantic shape and offsets",
        "size 2**63",
        "astronomic architecture",
    ],
)
def test_a_file_claiming_a_huge_tensor_allocates_little(valid, tmp_path, case):
    """Peak allocation while refusing stays below 10 x the file's size + 1 MiB."""
    path = tmp_path / "huge.safetensors"
    path.write_bytes(CORPUS[case](valid))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(rp.ModelFileError):
            rp.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * size + (1 << 20), (peak, size)


def test_loading_a_valid_file_allocates_about_its_size(valid, tmp_path):
    """The same bound holds for a real, larger model (so the bound is meaningful)."""
    path = tmp_path / "big.safetensors"
    rp.save(rp.mlp([64, 256, 256, 10], seed=0), path)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        rp.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 500_000
    assert peak < 10 * size + (1 << 20), (peak, size)


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "size 2**63",
        "unknown activation",
        "NaN weight",
        "a pickle of the state dict",
        "an object .npy",
    ],
)
def test_cli_predict_with_a_bad_model_exits_2_with_one_line(
    valid, tmp_path, capsys, case
):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(CORPUS[case](valid))
    data = tmp_path / "new.csv"
    data.write_text("w,x,y,z\n1,2,3,4\n")
    with pytest.raises(SystemExit) as info:
        main(["predict", "--model", str(bad), "--data", str(data)])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("retroprop: error: ")
    assert str(bad) in err and "Traceback" not in err


def test_cli_predict_with_weights_that_overflow_exits_2_without_warnings(tmp_path):
    """A loadable model (finite weights of 1e300) whose outputs overflow on the data:
    one line naming the model and the row, no RuntimeWarning, no NaN table."""
    import os
    import subprocess
    import sys

    net = rp.mlp([4, 4, 3], "identity", seed=0)
    net[0].weight.data[:] = 1e300
    net[2].weight.data[:] = 1e300
    path = tmp_path / "huge.safetensors"
    rp.save(net, path, feature_names=list("abcd"), class_names=list("xyz"))
    rp.load(path)  # finite, so loadable
    data = tmp_path / "new.csv"
    data.write_text("a,b,c,d\n0,0,0,0\n1,2,3,4\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "predict",
            "--model",
            str(path),
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "RETROPROP_DEBUG"},
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1, r.stderr
    assert str(path) in r.stderr and "data row 2" in r.stderr


def _unblock_after(fifo: Path, seconds: float):
    """If a reader is (wrongly) still blocked on ``fifo`` after ``seconds``, open it
    for writing so that the test fails instead of hanging. Returns ``done``, an
    Event to set when the reader has returned."""
    import threading

    done = threading.Event()

    def unblock():
        import errno
        import os

        if done.wait(seconds):
            return
        try:  # non-blocking: fails (ENXIO) when no reader is waiting
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            assert e.errno == errno.ENXIO
            return
        os.write(fd, b"garbage")
        os.close(fd)

    threading.Thread(target=unblock, daemon=True).start()
    return done


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs POSIX FIFOs")
def test_a_pipe_or_device_is_refused_without_reading(tmp_path):
    import os

    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    done = _unblock_after(fifo, 10.0)
    err = _refused(fifo)
    done.set()
    assert "not a regular file" in str(err)  # refused before open(), which would block
    for device in ("/dev/zero", "/dev/null", "/dev/urandom"):
        if os.path.exists(device):
            assert "not a regular file" in str(_refused(Path(device)))


def _fitted(mean, scale):
    return rp.datasets.Standardizer(np.asarray(mean, float), np.asarray(scale, float))


@pytest.mark.parametrize(
    ("what", "kwargs"),
    [
        ("int class names", {"class_names": [0, 1, 2]}),
        ("too few class names", {"class_names": ["a", "b"]}),
        ("int feature names", {"feature_names": [1, 2, 3, 4]}),
        ("too many feature names", {"feature_names": list("abcde")}),
        ("NaN in metadata", {"metadata": {"loss": float("nan")}}),
        ("inf in metadata", {"metadata": {"loss": [float("inf")]}}),
        ("NumPy int in metadata", {"metadata": {"epochs": np.int64(3)}}),
        ("object in metadata", {"metadata": {"x": object()}}),
        ("standardizer of 3 features", {"standardizer": _fitted([0] * 3, [1] * 3)}),
        (
            "standardizer with NaN",
            {"standardizer": _fitted([np.nan, 0, 0, 0], [1] * 4)},
        ),
        (
            "standardizer with zero scale",
            {"standardizer": _fitted([0] * 4, [1, 0, 1, 1])},
        ),
        ("unfitted standardizer", {"standardizer": rp.datasets.Standardizer()}),
    ],
)
def test_save_refuses_what_load_would_refuse(tmp_path, what, kwargs):
    """Before: each of these was written, and then rp.load refused the file (or save
    raised a bare TypeError/ValueError). Now save refuses up front, writing nothing."""
    path = tmp_path / "m.safetensors"
    rp.save(rp.mlp([4, 3], seed=1), path)
    before = path.read_bytes()
    with pytest.raises(rp.ConfigError) as info:
        rp.save(rp.mlp([4, 3], seed=0), path, **kwargs)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize(
    "net", [rp.Sequential(), rp.Sequential(rp.Linear(2, 2), rp.Module())]
)
def test_save_refuses_a_network_it_could_not_rebuild(tmp_path, net):
    with pytest.raises(rp.ConfigError, match="cannot be saved"):
        rp.save(net, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("element", [b"{}", b"[]", b"0", b"1.5", b'""', b'"k":0'])
def test_a_json_bomb_header_costs_a_bounded_amount(tmp_path, element):
    """A 1 MiB header (the limit) of tiny JSON values: parsing makes a Python object
    per few bytes, measured up to 26x the text (27 MB); the header limit keeps that
    below 32 MiB whatever the file claims."""
    import retroprop.io

    limit = retroprop.io.MAX_HEADER
    opener, closer = (b"{", b"}") if element.startswith(b'"k"') else (b'{"a":[', b"]}")
    count = (limit - 16) // (len(element) + 1)
    if element.startswith(b'"k"'):  # distinct keys, or the duplicate check stops it
        body = b",".join(b'"%d":0' % i for i in range(count // 2))
    else:
        body = b",".join([element] * count)
    head = opener + body + closer
    assert len(head) <= limit
    path = tmp_path / "bomb.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head)
    tracemalloc.start()
    try:
        with pytest.raises(rp.ModelFileError):
            rp.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, peak
