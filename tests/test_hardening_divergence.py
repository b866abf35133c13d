"""Diverging training: a clear error, the last finite parameters kept, nothing saved.

Divergence means the loss or a parameter became non-finite (inf or NaN). The tests run
under the suite's strict ``np.errstate`` (overflow raises), so an overflow that escaped
as ``FloatingPointError`` instead of ``DivergenceError`` fails them; the command-line
tests run the real ``retroprop`` in a subprocess, with NumPy's default error handling,
so a stray ``RuntimeWarning`` on stderr fails them too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
from retroprop.recipe import prepare_data


class Snapshots(rp.Callback):
    """The whole state_dict before and after every update, with iteration numbers."""

    per_iteration = True

    def __init__(self):
        self.before: list[tuple[int, dict]] = []
        self.after: list[tuple[int, dict]] = []

    def on_iteration_begin(self, state):
        self.before.append((state.iteration, state.net.state_dict()))

    def on_iteration_end(self, state):
        self.after.append((state.iteration, state.net.state_dict()))


# (sizes, activation, lr, batch_size, dtype): each diverges on Iris (checked below:
# the test fails if training ends normally).
DIVERGING = [
    ([4, 4, 3, 3], "identity", 1e3, 1, np.float64),
    ([4, 4, 3, 3], "identity", 1e3, None, np.float64),
    ([4, 8, 3], "leaky_relu", 1e3, 16, np.float64),
    ([4, 6, 3], "identity", 1e6, 1, np.float64),
    ([4, 4, 3, 3], "identity", 1e3, 1, np.float32),
    ([4, 16, 16, 3], "leaky_relu", 1e4, 8, np.float32),
    ([4, 4, 3, 3], "sigmoid", 1e307, 1, np.float64),  # the lecture's network
    ([4, 4, 3, 3], "tanh", 1e308, None, np.float64),
    # large batches x many parameters: the fast engine's BLAS runner
    ([4, 64, 64, 3], "identity", 1e3, None, np.float64),
    ([4, 64, 64, 3], "leaky_relu", 100.0, 64, np.float32),
]


def _engines() -> list[str]:
    """The engines ``rp.train`` offers: the NumPy reference, and "fast" once it exists."""
    import inspect

    if "engine" not in inspect.signature(rp.train).parameters:
        return ["numpy"]
    from retroprop.fast import numba_available

    return ["numpy", "fast"] if numba_available() else ["numpy"]


ENGINES = _engines()


@pytest.fixture(scope="module")
def iris():
    return prepare_data()


@pytest.mark.parametrize(
    ("sizes", "activation", "lr", "batch_size", "dtype"), DIVERGING
)
def test_divergence_is_a_clear_error_and_keeps_the_last_finite_parameters(
    iris, sizes, activation, lr, batch_size, dtype
):
    net = rp.mlp(sizes, activation, seed=3, dtype=dtype)
    snaps = Snapshots()  # a per-iteration callback: the NumPy engine runs this
    with pytest.raises(rp.DivergenceError) as info:
        rp.train(
            net,
            iris.X_train,
            iris.y_train,
            epochs=50,
            lr=lr,
            batch_size=batch_size,
            seed=3,
            callbacks=[snaps],
        )
    err = info.value
    per_epoch = -(-len(iris.y_train) // (batch_size or len(iris.y_train)))
    # Where it happened, in the attributes and in the message.
    assert err.lr == lr
    assert 1 <= err.iteration == snaps.before[-1][0]
    assert err.epoch == (err.iteration - 1) // per_epoch + 1
    msg = str(err)
    assert f"epoch {err.epoch}" in msg and f"iteration {err.iteration}" in msg
    assert f"lr={lr:g}" in msg and "smaller learning rate" in msg
    assert "\n" not in msg
    # The parameters left are finite and exactly the last ones before the failing
    # update (or, when the failure was seen in the end-of-epoch loss after an update
    # that completed, the ones that update produced).
    final = net.state_dict()
    for v in final.values():
        assert v.dtype == dtype and np.isfinite(v).all()
    completed = snaps.after and snaps.after[-1][0] == err.iteration
    expected = (snaps.after if completed else snaps.before)[-1][1]
    assert final.keys() == expected.keys()
    for k in final:
        np.testing.assert_array_equal(final[k], expected[k])
    # Every earlier snapshot was finite too: nothing non-finite was ever committed.
    for _, state in snaps.after:
        assert all(np.isfinite(v).all() for v in state.values())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("sizes", "activation", "lr", "batch_size", "dtype"), DIVERGING
)
def test_every_engine_diverges_where_the_reference_does(
    iris, sizes, activation, lr, batch_size, dtype, engine
):
    """Without callbacks (so "fast" can run): the same error, finite parameters that
    agree with those the NumPy reference keeps."""

    def run(engine_kwargs):
        net = rp.mlp(sizes, activation, seed=3, dtype=dtype)
        with pytest.raises(rp.DivergenceError) as info:
            rp.train(
                net,
                iris.X_train,
                iris.y_train,
                epochs=50,
                lr=lr,
                batch_size=batch_size,
                seed=3,
                **engine_kwargs,
            )
        return info.value, net.state_dict()

    ref_err, ref = run({"engine": "numpy"} if len(ENGINES) > 1 else {})
    err, got = run({"engine": engine} if len(ENGINES) > 1 else {})
    assert (err.epoch, err.iteration, err.lr) == (ref_err.epoch, ref_err.iteration, lr)
    msg = str(err)
    assert f"epoch {err.epoch}, iteration {err.iteration} with lr={lr:g}" in msg
    assert "smaller learning rate (eta)" in msg and "\n" not in msg
    for k in ref:
        assert got[k].dtype == dtype and np.isfinite(got[k]).all()
        if engine == "numpy":
            np.testing.assert_array_equal(got[k], ref[k])
        else:
            # The fast path promises the reference's values to rounding. A diverging
            # run multiplies rounding differences at every step (the values here
            # reach 1e12..1e21, and small entries come from cancellation), so the
            # difference is measured against the array's largest value: float64
            # agrees to 1e-9 of it and float32 to 1e-3 (measured 1e-4).
            rtol = 1e-9 if dtype == np.float64 else 1e-3
            np.testing.assert_allclose(
                got[k], ref[k], rtol=rtol, atol=rtol * float(np.abs(ref[k]).max())
            )


def test_divergence_error_is_reported_the_same_without_strict_errstate(iris):
    """With NumPy's default error handling (the CLI's), no RuntimeWarning escapes."""
    import warnings

    net = rp.mlp([4, 4, 3, 3], "identity", seed=0)
    with (
        np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"),
        warnings.catch_warnings(),
    ):  # NumPy's default handling
        warnings.simplefilter("error")  # any RuntimeWarning becomes a failure
        with pytest.raises(rp.DivergenceError):
            rp.train(net, iris.X_train, iris.y_train, epochs=20, lr=1e3, seed=0)


def test_save_refuses_non_finite_parameters(tmp_path):
    net = rp.mlp([4, 4, 3], "sigmoid", seed=0)
    path = tmp_path / "m.safetensors"
    rp.save(net, path)
    before = path.read_bytes()
    for bad in (np.nan, np.inf, -np.inf):
        broken = rp.mlp([4, 4, 3], "sigmoid", seed=1)
        broken[2].bias.data[1] = bad
        with pytest.raises(rp.ModelFileError, match=r"'2\.bias'.*non-finite"):
            rp.save(broken, path)
        assert path.read_bytes() == before  # the previous file untouched
        with pytest.raises(rp.ModelFileError):
            rp.save(broken, tmp_path / "new.safetensors")
        assert not (tmp_path / "new.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temp


def _retroprop(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RETROPROP_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "1e307"],  # the lecture's sigmoid network
        ["--lr", "1e6", "--activation", "identity"],
    ],
)
def test_cli_divergence_exits_1_with_one_line_and_saves_nothing(tmp_path, args):
    fresh = tmp_path / "fresh.safetensors"
    r = _retroprop("train", "-q", *args, "--save", str(fresh), cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr  # no traceback, no RuntimeWarning
    assert lines[0].startswith("retroprop: error: training diverged at epoch ")
    assert "smaller learning rate" in lines[0] and "eta" in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not fresh.exists()
    # An existing model at the --save path is left exactly as it was.
    existing = tmp_path / "existing.safetensors"
    ok = _retroprop(
        "train", "-q", "--epochs", "2", "--save", str(existing), cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    before = existing.read_bytes()
    r = _retroprop(
        "train",
        "-q",
        *args,
        "--save",
        str(existing),
        "--record-bias",
        str(tmp_path / "bias.csv"),
        cwd=tmp_path,
    )
    assert r.returncode == 1
    assert existing.read_bytes() == before
    assert not (tmp_path / "bias.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.safetensors"]
