"""Bounded inputs (issue 15, findings 3 and 10): every size a file claims is checked
before anything is allocated, memory is compared with what the process may use, and
``rp.load`` raises only ``ModelFileError`` for a bad file.

The memory limit is real where it matters: ``resource.setrlimit(RLIMIT_AS, 1.5 GB)``
in a subprocess, as the issue's reproducers ran.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
import retroprop.engine.memory as memory
from retroprop.engine.memory import check_fits_in_memory, count_parameters
from retroprop.interop.torch_interop import load_torch_model

SRC = str(Path(rp.__file__).resolve().parents[1])
IRIS = str(Path(rp.datasets.__file__).resolve().parent / "iris.csv")
LIMIT = 1536 * 2**20  # 1.5 GB of address space


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def run_limited(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``retroprop ARGS`` in a process that may map at most 1.5 GB."""
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        preexec_fn=_limit_memory,
        cwd=cwd,
        timeout=300,
    )


def _model() -> rp.Model:
    return rp.Model(
        rp.mlp([4, 4, 3, 3], seed=0),
        class_names=["a", "b", "c"],
        feature_names=list("wxyz"),
        metadata={"lr": 0.05},
    )


def _parts(path: Path) -> tuple[dict, dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return header, json.loads(header["__metadata__"]["retroprop"]), raw[8 + n :]


def _write(path: Path, header: dict, info: dict | str, data: bytes) -> Path:
    header = {**header, "__metadata__": dict(header["__metadata__"])}
    header["__metadata__"]["retroprop"] = (
        info if isinstance(info, str) else json.dumps(info)
    )
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + data)
    return path


@pytest.fixture
def valid(tmp_path) -> Path:
    path = tmp_path / "valid.safetensors"
    rp.save(_model(), path)
    return path


def _with_info(tmp_path: Path, valid: Path, change, name: str = "bad.m") -> Path:
    header, info, data = _parts(valid)
    change(info)
    return _write(tmp_path / name, header, info, data)


def _huge_then_malformed(info: dict) -> None:
    """The issue's 1,564-byte file: Linear(15000, 15000), then Linear("x", 3)."""
    info["architecture"] = [
        {"type": "linear", "in_features": 15000, "out_features": 15000},
        {"type": "activation", "name": "sigmoid"},
        {"type": "linear", "in_features": "x", "out_features": 3},
    ]


# -- the architecture is checked whole, then the total, before allocating ----------


def _refused_cheaply(path: Path, match: str) -> None:
    """``rp.load(path)`` raises ModelFileError matching ``match``, having allocated
    next to nothing (not the 1.8 GB a Linear(15000, 15000) takes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(rp.ModelFileError, match=match):
            rp.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_a_malformed_layer_no_longer_hides_a_huge_one(tmp_path, valid):
    path = _with_info(tmp_path, valid, _huge_then_malformed)
    assert path.stat().st_size < 2000
    _refused_cheaply(path, r"layer 2 \(linear\): in_features")


@pytest.mark.parametrize(
    "bad",
    [15000.0, True, "15000", None, 0, -3, 2**70 + 0.5],
    ids=["float", "bool", "string", "null", "zero", "negative", "huge float"],
)
def test_float_bool_or_other_sizes_are_refused_before_counting(tmp_path, valid, bad):
    def change(info):
        info["architecture"][0]["in_features"] = bad
        info["architecture"].insert(
            0, {"type": "linear", "in_features": 15000, "out_features": 15000}
        )

    _refused_cheaply(_with_info(tmp_path, valid, change), "in_features")


def test_a_well_formed_huge_architecture_is_bounded_by_the_data(tmp_path, valid):
    def change(info):
        info["architecture"] = [
            {"type": "linear", "in_features": 15000, "out_features": 15000}
        ]

    with pytest.raises(
        rp.ModelFileError, match=r"needs 225015000 parameters of 8 bytes"
    ):
        rp.load(_with_info(tmp_path, valid, change))


def test_the_issues_model_file_under_a_memory_limit_is_one_line_exit_2(tmp_path, valid):
    """`retroprop predict` was OOM-killed (exit 137, no message) in 1.5 GB."""
    path = _with_info(tmp_path, valid, _huge_then_malformed, "hostile.m")
    res = run_limited("predict", "--model", str(path), "--data", IRIS)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "in_features" in res.stderr
    assert res.stderr.startswith(f"retroprop: error: {path}: ")


def test_hidden_15000_15000_under_a_memory_limit_is_one_line_exit_2():
    """It was OOM-killed: the exit-2 path relied on MemoryError alone."""
    res = run_limited("train", "-q", "--epochs", "1", "--hidden", "15000,15000")
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert "the network 4-15000-15000-3 has 225,135,003 parameters" in res.stderr
    assert "RLIMIT_AS" in res.stderr and "use smaller layers" in res.stderr


def test_an_absurd_hidden_size_is_one_line_exit_2(capsys):
    """`--hidden 99999999999999999999` was an internal error (exit 1)."""
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train", "-q", "--hidden", "99999999999999999999"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and err.count("\n") == 1
    assert "more than the" in err and "use smaller layers" in err


# -- the memory estimate ------------------------------------------------------------


def test_the_estimate_counts_bytes_and_copies(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: (10**9, "test"))
    check_fits_in_memory(10**9 // 24, np.float64, "a net", copies=3)  # 1e9 bytes
    with pytest.raises(rp.ConfigError) as info:
        check_fits_in_memory(10**9 // 24 + 1, np.float64, "a net", copies=3)
    assert str(info.value) == (
        "a net has 41,666,667 parameters (float64, held 3 times for training) and "
        "needs about 1 GB, more than the 1 GB this process can use (test); use "
        "smaller layers"
    )
    check_fits_in_memory(10**9 // 4, np.float32, "a net")  # float32 halves it
    with pytest.raises(rp.ConfigError):
        check_fits_in_memory(10**9 // 4 + 1, np.float32, "a net")


def test_small_requests_do_not_read_the_system(monkeypatch):
    def boom():
        raise AssertionError("read /proc for a small network")

    monkeypatch.setattr(memory, "available_memory", boom)
    rp.mlp([4, 100, 100, 3])
    check_fits_in_memory(memory.CHECK_ABOVE // 8 - 1, np.float64, "x")


def test_mlp_and_from_config_check_before_allocating(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: (100 * 2**20, "test"))
    with pytest.raises(rp.ConfigError, match="the network 4-3000-3000-3 has"):
        rp.mlp([4, 3000, 3000, 3])  # 72 MB, three times
    config = [{"type": "linear", "in_features": 4000, "out_features": 4000}]
    with pytest.raises(rp.ConfigError, match="the architecture has 16,004,000"):
        rp.engine.network.from_config(config)


def test_the_limit_is_the_smallest_of_cgroup_rlimit_and_available(monkeypatch):
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 3 * 2**30)
    monkeypatch.setattr(memory, "_address_space_room", lambda: None)
    monkeypatch.setattr(memory, "_available_room", lambda: 8 * 2**30)
    assert memory.available_memory() == (3 * 2**30, "the cgroup's memory.max")
    monkeypatch.setattr(memory, "_address_space_room", lambda: 2**30)
    assert memory.available_memory()[1].startswith("the address-space limit")


def test_a_real_rlimit_is_seen():
    code = (
        "import resource; from retroprop.engine.memory import available_memory;"
        f"resource.setrlimit(resource.RLIMIT_AS, ({LIMIT}, {LIMIT}));"
        "print(*available_memory(), sep='|')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        check=True,
    ).stdout
    room, source = out.strip().split("|")
    assert 0 < int(room) < LIMIT and "RLIMIT_AS" in source


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_cgroup_room_is_limit_less_working_set(tmp_path, monkeypatch, version):
    """A cgroup's files, written here: limit 2 GB, 1.5 GB used of which 0.5 GB is
    reclaimable page cache: 1 GB of room."""
    names = {
        "v2": ("memory.max", "memory.current", "inactive_file"),
        "v1": ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    }[version]
    (tmp_path / names[0]).write_text(f"{2 * 10**9}\n")
    (tmp_path / names[1]).write_text(f"{15 * 10**8}\n")
    (tmp_path / "memory.stat").write_text(f"anon 1\n{names[2]} {5 * 10**8}\n")
    assert memory._room(str(tmp_path), *names) == 10**9
    (tmp_path / names[0]).write_text("max\n" if version == "v2" else f"{2**63}\n")
    assert memory._room(str(tmp_path), *names) is None  # no limit


def test_count_parameters_checks_every_layer_first():
    config = [
        {"type": "linear", "in_features": 4, "out_features": 3},
        {"type": "activation", "name": "sigmoid"},
        {"type": "linear", "in_features": 3, "out_features": 2, "bias": False},
    ]
    assert count_parameters(config) == 4 * 3 + 3 + 3 * 2
    for bad, match in (
        ([], "non-empty list"),
        ("mlp", "non-empty list"),
        ([7], "layer 0 of the architecture is not an object"),
        ([{"type": "conv"}], "unknown layer type 'conv'"),
        ([{"type": "linear", "in_features": 3}], "has no 'out_features'"),
        ([{"type": "linear", "in_features": 3, "out_features": 2, "bias": 1}], "bias"),
    ):
        with pytest.raises(rp.ConfigError, match=match):
            count_parameters(bad)


# -- rp.load raises only ModelFileError ---------------------------------------------


@pytest.mark.parametrize(
    "exc", [MemoryError(), RecursionError("deep"), TypeError("x"), KeyError("k")]
)
def test_load_turns_every_failure_into_a_model_file_error(valid, monkeypatch, exc):
    def fail(*a, **k):
        raise exc

    monkeypatch.setattr("retroprop.io.from_config", fail)
    with pytest.raises(rp.ModelFileError, match=f"^{valid}: ") as info:
        rp.load(valid)
    assert "\n" not in str(info.value)


def test_a_file_too_large_for_memory_is_refused_before_reading(valid, monkeypatch):
    monkeypatch.setattr(memory, "CHECK_ABOVE", 0)
    monkeypatch.setattr(memory, "available_memory", lambda: (100, "test"))
    with pytest.raises(rp.ModelFileError, match=r"loading it needs about .* \(test\)"):
        rp.load(valid)


# -- strict header ------------------------------------------------------------------


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_format_version_must_be_the_integer(tmp_path, valid, version):
    path = _with_info(tmp_path, valid, lambda info: info.update(format_version=version))
    with pytest.raises(rp.ModelFileError, match="unknown format version"):
        rp.load(path)


@pytest.mark.parametrize("field", ["feature_names", "class_names"])
def test_duplicate_names_are_refused_by_load_and_save(tmp_path, valid, field):
    def change(info):
        info[field] = [*info[field][:-1], info[field][0]]

    with pytest.raises(rp.ModelFileError, match=f"its '{field}' has .* twice"):
        rp.load(_with_info(tmp_path, valid, change))
    model = _model()
    names = getattr(model, field)
    setattr(model, field, [*names[:-1], names[0]])
    with pytest.raises(rp.ConfigError, match=f"{field} names .* twice"):
        rp.save(model, tmp_path / "dup.m")
    assert not (tmp_path / "dup.m").exists()


def _nested(depth: int) -> dict:
    d: dict = {}
    for _ in range(depth - 1):
        d = {"a": d}
    return d


def test_save_refuses_metadata_deeper_than_load_accepts(tmp_path, capsys):
    """992-deep metadata saved, then predict failed with RecursionError."""
    limit = rp.io.MAX_METADATA_DEPTH
    model = _model()
    model.metadata = _nested(limit)
    rp.save(model, tmp_path / "ok.m")
    assert rp.load(tmp_path / "ok.m").metadata == _nested(limit)
    for depth in (limit + 1, 992):
        model.metadata = _nested(depth)
        with pytest.raises(rp.ConfigError, match=f"nests {depth} levels deep"):
            rp.save(model, tmp_path / "deep.m")
    assert not (tmp_path / "deep.m").exists()


def test_load_refuses_metadata_deeper_than_the_limit(tmp_path, valid):
    deep = _nested(rp.io.MAX_METADATA_DEPTH + 1)
    path = _with_info(tmp_path, valid, lambda info: info.update(metadata=deep))
    with pytest.raises(rp.ModelFileError, match="nests deeper than"):
        rp.load(path)


# -- PyTorch files ------------------------------------------------------------------

USER_NET = """
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.fc2 = torch.nn.Linear(3, 3)
    def forward(self, x):
        return self.fc2(torch.sigmoid(self.fc1(x)))
"""


@pytest.fixture
def torch_user(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    (tmp_path / "user_net.py").write_text(USER_NET)
    (tmp_path / "broken_net.py").write_text("raise RuntimeError('no GPU here')\n")
    monkeypatch.chdir(tmp_path)
    for name in ("user_net", "broken_net"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return torch


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_pt_file_with_non_finite_weights_is_the_files_fault(
    tmp_path, torch_user, capsys, value
):
    torch = torch_user
    state = {
        "fc1.weight": torch.zeros(3, 4),
        "fc1.bias": torch.zeros(3),
        "fc2.weight": torch.zeros(3, 3),
        "fc2.bias": torch.zeros(3),
    }
    torch.save(state, tmp_path / "good.pt")
    load_torch_model(tmp_path / "good.pt", "user_net:Net")
    state["fc2.weight"][1, 2] = value
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(rp.ModelFileError, match=r"'fc2.weight' holds non-finite"):
        load_torch_model(tmp_path / "bad.pt", "user_net:Net")
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main(["explain", "--torch-model", "bad.pt", "--torch-class", "user_net:Net"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and err.count("\n") == 1 and "non-finite" in err


def test_a_torch_class_whose_module_raises_on_import(tmp_path, torch_user, capsys):
    torch_user.save({}, tmp_path / "m.pt")
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main(["explain", "--torch-model", "m.pt", "--torch-class", "broken_net:Net"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and err.count("\n") == 1
    assert "importing module 'broken_net'" in err and "no GPU here" in err


def test_a_missing_pt_file_is_a_model_file_error(tmp_path, torch_user):
    with pytest.raises(rp.ModelFileError, match="no such file"):
        load_torch_model(tmp_path / "nope.pt", "user_net:Net")
