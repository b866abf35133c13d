"""``rp.save`` / ``rp.load``: exact round trips and the safetensors layout.

(Hostile and malformed files are covered by the hardening tests.)
"""

from __future__ import annotations

import itertools
import json
import struct

import numpy as np
import pytest

import retroprop as rp
from retroprop.recipe import prepare_data


def read_safetensors_by_hand(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The layout with nothing but struct and json: u64 length, JSON header, data."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F64": "<f8", "F32": "<f4"}[spec["dtype"]]
        begin, end = spec["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(
            spec["shape"]
        )
    return header, tensors


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_exact(tmp_path, dtype):
    net = rp.Sequential(
        rp.Linear(4, 5, seed=0, dtype=dtype),
        rp.LeakyReLU(0.2),
        rp.Linear(5, 3, bias=False, seed=1, dtype=dtype),
        rp.Tanh(),
        rp.Linear(3, 2, seed=2, dtype=dtype),
    )
    path = tmp_path / "m.safetensors"
    rp.save(net, path)
    model = rp.load(path)
    assert isinstance(model, rp.Model)
    assert model.net.config() == net.config()
    assert model.net.dtype == dtype
    for (k, v), (k2, v2) in zip(
        net.state_dict().items(), model.net.state_dict().items()
    ):
        assert k == k2 and v2.dtype == dtype
        np.testing.assert_array_equal(v, v2)  # bit for bit
    X = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(model.net(X), net(X))
    assert model.net[1].negative_slope == 0.2
    assert model.class_names == [] and model.standardizer is None


def test_model_with_class_names_features_and_standardizer(tmp_path):
    split = prepare_data()
    net = rp.mlp([4, 4, 3, 3], seed=1)
    rp.train(net, split.X_train, split.y_train, epochs=2, lr=0.05)
    model = rp.Model(
        net,
        class_names=split.dataset.class_names,
        feature_names=split.dataset.feature_names,
        standardizer=split.standardizer,
        metadata={"lr": 0.05, "note": "é"},
    )
    path = tmp_path / "iris.safetensors"
    rp.save(model, path)
    back = rp.load(path)
    assert back.class_names == ["setosa", "versicolor", "virginica"]
    assert back.feature_names == split.dataset.feature_names
    assert back.metadata == {"lr": 0.05, "note": "é"}
    np.testing.assert_array_equal(back.standardizer.mean_, split.standardizer.mean_)
    np.testing.assert_array_equal(back.standardizer.scale_, split.standardizer.scale_)
    raw = split.dataset.X[:10]
    np.testing.assert_array_equal(back.predict_proba(raw), model.predict_proba(raw))
    np.testing.assert_array_equal(back.predict(raw), model.predict(raw))
    # predict on raw features standardises first: equal to the net on scaled data.
    np.testing.assert_array_equal(
        back.predict(raw), rp.predict(net, split.standardizer.transform(raw))
    )


def test_save_keyword_arguments_for_a_bare_network(tmp_path):
    net = rp.mlp([2, 3], seed=0)
    st = rp.datasets.Standardizer(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    rp.save(
        net,
        tmp_path / "m",
        class_names=["a", "b", "c"],
        feature_names=["x", "y"],
        standardizer=st,
    )
    back = rp.load(tmp_path / "m")
    assert back.class_names == ["a", "b", "c"] and back.feature_names == ["x", "y"]
    np.testing.assert_array_equal(back.standardizer.scale_, [3.0, 4.0])


@pytest.mark.parametrize(("dtype", "code"), [(np.float64, "F64"), (np.float32, "F32")])
def test_file_is_safetensors_layout(tmp_path, dtype, code):
    net = rp.mlp([4, 4, 3, 3], seed=0, dtype=dtype)
    path = tmp_path / "m.safetensors"
    rp.save(net, path, class_names=["a", "b", "c"])
    header, tensors = read_safetensors_by_hand(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0  # data aligned, as safetensors writes it
    assert list(tensors) == list(net.state_dict())
    for name, v in net.state_dict().items():
        assert header[name]["dtype"] == code
        assert header[name]["shape"] == list(v.shape)
        np.testing.assert_array_equal(tensors[name], v)
    # The offsets tile the data section exactly.
    spans = sorted(
        tuple(s["data_offsets"]) for k, s in header.items() if k != "__metadata__"
    )
    assert spans[0][0] == 0 and spans[-1][1] == len(raw) - 8 - n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    meta = header["__metadata__"]
    assert meta["format"] == "retroprop"
    assert all(isinstance(v, str) for v in meta.values())  # safetensors requires str
    info = json.loads(meta["retroprop"])
    assert info["architecture"] == net.config() and info["class_names"] == [
        "a",
        "b",
        "c",
    ]


def test_safetensors_library_reads_it_when_installed(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    net = rp.mlp([4, 4, 3, 3], seed=0)
    rp.save(net, tmp_path / "m.safetensors")
    loaded = st.load_file(str(tmp_path / "m.safetensors"))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(loaded[k], v)


def test_saving_replaces_an_existing_file(tmp_path):
    path = tmp_path / "m.safetensors"
    rp.save(rp.mlp([2, 2], seed=0), path)
    rp.save(rp.mlp([3, 4, 2], seed=1), path)
    assert rp.load(path).net.in_features == 3
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp left


def test_load_errors_are_model_file_errors(tmp_path):
    with pytest.raises(rp.ModelFileError, match="no such file"):
        rp.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk").write_bytes(b"\x80\x04\x95 not a model")
    with pytest.raises(rp.ModelFileError, match="not a valid retroprop model file"):
        rp.load(tmp_path / "junk")


def test_non_finite_parameters_are_not_saved(tmp_path):
    net = rp.mlp([2, 2], seed=0)
    net[0].bias.data[0] = np.nan
    with pytest.raises(rp.ModelFileError, match=r"0\.bias"):
        rp.save(net, tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("spoil", "match"),
    [
        (lambda net: {"metadata": {"x": "a" * (2 << 20)}}, "header"),
        (lambda net: {"metadata": {1: 2}}, "string keys"),
        (lambda net: {"metadata": {"t": (1, 2)}}, "tuples"),
    ],
)
def test_save_refuses_what_load_would_refuse_or_change(tmp_path, spoil, match):
    net = rp.mlp([2, 3, 2], seed=0)
    path = tmp_path / "m.safetensors"
    with pytest.raises(rp.ConfigError, match=match):
        rp.save(net, path, **spoil(net))
    assert not path.exists()


def test_save_refuses_a_parameter_of_another_dtype(tmp_path):
    net = rp.mlp([2, 3, 2], seed=0)
    net[0].weight.data = net[0].weight.data.astype(np.float32)
    with pytest.raises(rp.ConfigError, match=r"'0\.weight' is float32"):
        rp.save(net, tmp_path / "m.safetensors")


def test_saved_file_permissions_follow_the_umask(tmp_path):
    """Atomic writes go through mkstemp (0600); the file must end up as open() makes it."""
    import os
    import stat

    path = tmp_path / "m.safetensors"
    rp.save(rp.mlp([2, 2], seed=0), path)
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
