"""Property-based fuzzing of the two loaders that read strangers' files.

``load_csv`` may only succeed or raise ``DataError``; ``rp.load`` may only succeed or
raise ``ModelFileError``. Any other exception (including ``FloatingPointError`` under
the suite's strict errstate, ``MemoryError``, ``RecursionError``) fails. Inputs are
random bytes, random text, and mutations of a valid file: byte flips, truncations,
insertions of tokens that tend to break parsers, and, for model files, mutations of
the JSON header with its length prefix kept consistent (so they get past the first
check) and JSON values replaced by arbitrary JSON.

For longer runs, see ``fuzz/fuzz_loaders.py`` (atheris) and the README.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retroprop as rp
from retroprop.datasets import load_csv

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

TOKENS = [
    b",",
    b'"',
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"nan",
    b"inf",
    b"-inf",
    b"1e400",
    b"1e-400",
    b"-0",
    b"0x10",
    b"1_0",
    b" ",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b"-1",
    b"18446744073709551615",
    b"9" * 400,
    b"\\u0000",
    b"\\ud800",
    b"\xc3\x28",
]


def _mutations(max_ops: int = 4) -> st.SearchStrategy:
    """A list of (kind, position fraction, payload) edits."""
    op = st.tuples(
        st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]),
        st.floats(0, 1),
        st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8)),
    )
    return st.lists(op, min_size=1, max_size=max_ops)


def _mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for kind, where, payload in ops:
        i = min(int(where * len(b)), max(len(b) - 1, 0))
        if kind == "flip" and b:
            b[i] ^= payload[0] or 0x80
        elif kind == "truncate":
            del b[i:]
        elif kind == "insert":
            b[i:i] = payload
        elif kind == "delete":
            del b[i : i + len(payload)]
        elif kind == "replace":
            b[i : i + len(payload)] = payload
    return bytes(b)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# --- CSV -------------------------------------------------------------------------

VALID_CSV = (
    b"sepal length,sepal width,petal length,petal width,species\n"
    b"5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n"
    b"7.0,3.2,4.7,1.4,versicolor\n6.4,3.2,4.5,1.5,versicolor\n"
    b"6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n"
)


def _csv_only_data_error(path, content: bytes) -> None:
    path.write_bytes(content)
    for kwargs in (
        {},
        {"target": "species"},
        {
            "features": ["sepal width", "petal width"],
            "require_target": False,
            "class_names": ["setosa", "versicolor", "virginica"],
        },
    ):
        try:
            ds = load_csv(path, **kwargs)
        except rp.DataError as e:
            assert str(e) and "\n" not in str(e)
        else:  # what loads is well-formed
            assert ds.X.ndim == 2 and ds.X.dtype == np.float64
            assert np.isfinite(ds.X).all()
            if ds.y is not None:
                assert ds.y.shape == (ds.X.shape[0],)
                if ds.task == "regression":  # a numeric target: finite values
                    assert ds.y.dtype == np.float64 and np.isfinite(ds.y).all()
                else:
                    assert ds.y.min() >= 0 and ds.y.max() < len(ds.class_names)


def test_the_valid_csv_loads(folder):
    path = folder / "valid.csv"
    path.write_bytes(VALID_CSV)
    assert load_csv(path).X.shape == (6, 4)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_csv_random_bytes(folder, content):
    _csv_only_data_error(folder / "random.csv", content)


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(list(',"\n\r 0123456789.e-+abnif\x00\ufeffé')),
        max_size=300,
    )
)
def test_csv_random_text(folder, text):
    _csv_only_data_error(folder / "text.csv", text.encode("utf-8"))


@FUZZ
@given(ops=_mutations())
def test_csv_near_valid(folder, ops):
    _csv_only_data_error(folder / "near.csv", _mutate(VALID_CSV, ops))


# --- model files ------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_model(folder) -> bytes:
    net = rp.mlp([3, 4, 2], "leaky_relu", seed=0)
    model = rp.Model(
        net,
        class_names=["a", "b"],
        feature_names=["x", "y", "z"],
        standardizer=rp.datasets.Standardizer(np.zeros(3), np.ones(3)),
    )
    path = folder / "valid.safetensors"
    rp.save(model, path)
    rp.load(path)
    return path.read_bytes()


def _model_only_model_file_error(path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        model = rp.load(path)
    except rp.ModelFileError as e:
        assert str(e) and "\n" not in str(e)
    else:  # what loads is usable
        for _, p in model.net.named_parameters():
            assert np.isfinite(p.data).all()
        X = np.zeros((2, model.net.in_features))
        assert model.predict_proba(X).shape == (2, model.net.out_features)


def _split(raw: bytes) -> tuple[bytes, bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[8 : 8 + n], raw[8 + n :]


@FUZZ
@given(content=st.binary(max_size=2000))
def test_model_random_bytes(folder, content):
    _model_only_model_file_error(folder / "random.safetensors", content)


@FUZZ
@given(ops=_mutations())
def test_model_near_valid_bytes(folder, valid_model, ops):
    _model_only_model_file_error(folder / "near.safetensors", _mutate(valid_model, ops))


@FUZZ
@given(ops=_mutations(), data_ops=st.one_of(st.none(), _mutations(2)))
def test_model_mutated_header_with_consistent_length(
    folder, valid_model, ops, data_ops
):
    head, data = _split(valid_model)
    head = _mutate(head, ops)
    if data_ops is not None:
        data = _mutate(data, data_ops)
    _model_only_model_file_error(
        folder / "header.safetensors", struct.pack("<Q", len(head)) + head + data
    )


JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(
            [
                0,
                1,
                2,
                3,
                4,
                -1,
                2**31,
                2**63,
                "linear",
                "activation",
                "sigmoid",
                "leaky_relu",
                "F64",
                "F32",
                "float64",
                "float32",
                "retroprop",
            ]
        ),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=12,
)


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON value."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _replace(obj, path, value):
    if not path:
        return value
    obj[path[0]] = _replace(obj[path[0]], path[1:], value)
    return obj


@FUZZ
@given(where=st.floats(0, 1), inner=st.booleans(), value=JSON)
def test_model_json_value_replaced(folder, valid_model, where, inner, value):
    """Any one value of the header (or of the metadata inside it) replaced by any JSON."""
    head, data = _split(valid_model)
    header = json.loads(head)
    info = json.loads(header["__metadata__"]["retroprop"])
    target = info if inner else header
    paths = [p for p, _ in _paths(target)]
    path = paths[min(int(where * len(paths)), len(paths) - 1)]
    target = _replace(target, path, value)
    if inner:
        header["__metadata__"]["retroprop"] = json.dumps(target)
    else:
        header = target
    new_head = json.dumps(header).encode()
    _model_only_model_file_error(
        folder / "json.safetensors", struct.pack("<Q", len(new_head)) + new_head + data
    )


# --- save -> load round trip ------------------------------------------------------

NUMBER = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1e-300, 1e300]))


@FUZZ
@given(
    n_classes=st.integers(0, 4),
    n_features=st.integers(0, 4),
    names=st.one_of(
        st.lists(st.text(max_size=5), max_size=6),
        st.lists(st.one_of(st.text(max_size=5), st.integers(0, 3)), max_size=6),
    ),
    scaler=st.one_of(
        st.none(),
        st.tuples(
            st.lists(st.floats(-1e300, 1e300), min_size=3, max_size=3),
            st.lists(st.floats(1e-300, 1e300), min_size=3, max_size=3),
        ),
        st.tuples(
            st.lists(NUMBER, min_size=2, max_size=3),
            st.lists(NUMBER, min_size=2, max_size=3),
        ),
    ),
    metadata=st.dictionaries(
        st.text(max_size=4), st.one_of(JSON, st.floats()), max_size=3
    ),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_whatever_save_accepts_load_returns(
    folder, n_classes, n_features, names, scaler, metadata, dtype
):
    """save either refuses (ConfigError, writing nothing) or writes a file that
    load reads back exactly: no file is ever written that load would refuse."""
    path = folder / "roundtrip.safetensors"
    if path.exists():
        path.unlink()
    net = rp.mlp([3, 4, 3], "tanh", seed=0, dtype=dtype)
    model = rp.Model(
        net,
        class_names=names[:n_classes] if n_classes != 4 else names,
        feature_names=names[:n_features] if n_features != 4 else names,
        metadata=metadata,
        standardizer=None
        if scaler is None
        else rp.datasets.Standardizer(np.array(scaler[0]), np.array(scaler[1])),
    )
    try:
        rp.save(model, path)
    except rp.ConfigError as e:
        assert "\n" not in str(e)
        assert not path.exists()
        return
    back = rp.load(path)
    assert back.class_names == model.class_names
    assert back.feature_names == model.feature_names
    assert back.metadata == model.metadata
    for k, v in net.state_dict().items():
        got = back.net.state_dict()[k]
        assert got.dtype == v.dtype and got.tobytes() == v.tobytes()
    if scaler is None:
        assert back.standardizer is None
    else:
        assert back.standardizer.mean_.tobytes() == model.standardizer.mean_.tobytes()
        assert back.standardizer.scale_.tobytes() == model.standardizer.scale_.tobytes()
