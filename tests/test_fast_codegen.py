"""The per-sample kernels specialised to one network (``fast.codegen``).

For every activation and loss the compiled kernels know, a run on the kernel written
for the network's shape must equal the general kernels bit for bit (the same
expressions in the same order) and the NumPy engine to 1e-12 in float64: the same
parameters, the same History, the same divergence point.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import ACTIVATION_CODES, LOSS_CODES, numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


def _run(X, y, activation, *, general=False, engine="auto", sizes=(4, 5, 3), **kw):
    """``(state_dict, History or DivergenceError, kernels module used)``."""
    from retroprop.fast import codegen, single

    used = []
    real_init = single.FastRunner.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        used.append(self.k)

    net = rp.mlp(list(sizes), activation, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(single.FastRunner, "__init__", init)
        if general:  # every network too large to specialise: the general kernels
            mp.setattr(codegen, "SPECIALISE_MAX", -1)
        try:
            out = rp.train(net, X, y, engine=engine, **kw)
        except rp.DivergenceError as e:
            out = e
    return net.state_dict(), out, used


@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
@pytest.mark.parametrize("activation", sorted(ACTIVATION_CODES))
def test_specialised_kernel_equals_the_general_one_and_the_engine(
    activation, loss, iris_split
):
    from retroprop.fast import kernels

    X, y = iris_split.X_train, iris_split.y_train
    kw = {
        "epochs": 3,
        "lr": 0.05,
        "batch_size": 1,
        "momentum": 0.3,
        "loss": loss,
        "validation": (iris_split.X_test, iris_split.y_test),
    }
    special = _run(X, y, activation, **kw)
    general = _run(X, y, activation, general=True, **kw)
    ref = _run(X, y, activation, engine="numpy", **kw)
    assert special[2] and special[2][0] is not kernels  # the network's own kernel
    assert general[2] == [kernels]
    assert special[1].engine == general[1].engine == "fast"
    for name in ref[0]:
        assert np.array_equal(special[0][name], general[0][name]), name
        np.testing.assert_allclose(special[0][name], ref[0][name], rtol=0, atol=1e-12)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        got, want = getattr(special[1], key), getattr(ref[1], key)
        assert got == getattr(general[1], key), key
        assert len(got) == len(want) == 3, key
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_specialised_kernel_diverges_where_the_engine_does(activation, iris_split):
    X, y = iris_split.X_train * 30.0, iris_split.y_train
    kw = {"epochs": 5, "lr": 1e155, "batch_size": 4, "loss": "mse"}
    (_, err, used) = _run(X, y, activation, **kw)
    (_, ref, _) = _run(X, y, activation, engine="numpy", **kw)
    assert used, "the fast path was not used"
    assert isinstance(err, rp.DivergenceError) and isinstance(ref, rp.DivergenceError)
    assert (err.epoch, err.iteration, err.lr) == (ref.epoch, ref.iteration, ref.lr)


def test_a_network_without_biases_and_hidden_layers(iris_split):
    X, y = iris_split.X_train, iris_split.y_train
    net = rp.Sequential(rp.Linear(4, 3, bias=False, seed=1))
    ref = rp.Sequential(rp.Linear(4, 3, bias=False, seed=1))
    h = rp.train(net, X, y, epochs=2, lr=0.1, engine="fast")
    hr = rp.train(ref, X, y, epochs=2, lr=0.1, engine="numpy")
    np.testing.assert_allclose(
        net.state_dict()["0.weight"], ref.state_dict()["0.weight"], atol=1e-12
    )
    np.testing.assert_allclose(h.loss, hr.loss, rtol=1e-12)


def test_the_source_is_written_once_and_names_the_network(tmp_path, monkeypatch):
    from retroprop.fast import codegen
    from retroprop.fast.spec import Layout

    monkeypatch.setenv("RETROPROP_CACHE_DIR", str(tmp_path))
    layout = Layout.of(rp.mlp([4, 4, 3, 3]))
    text = codegen.source(layout, LOSS_CODES["cross_entropy"])
    # the shape is in the code: the first layer's loop over 4 outputs of 4 inputs
    assert "for o in range(4):" in text and "s += theta[16 + o]" in text
    assert "def train_run(" in text and "KERNELS_SOURCE" in text
    first = codegen._write("abc", text)
    mtime = first.stat().st_mtime_ns
    again = codegen._write("abc", text)  # never rewritten: Numba keys on the date
    assert again == first and again.stat().st_mtime_ns == mtime
    assert first.parent == tmp_path / "kernels"
    assert not [p for p in first.parent.iterdir() if p.suffix == ".tmp"]


def test_large_networks_take_the_general_kernels():
    from retroprop.fast import codegen, kernels
    from retroprop.fast.spec import Layout

    big = Layout.of(rp.mlp([200, 120, 10]))
    assert big.size > codegen.SPECIALISE_MAX
    assert codegen.kernels_for(big, LOSS_CODES["mse"]) is kernels


def test_a_damaged_cache_of_a_specialised_kernel_is_repaired(
    tmp_path, monkeypatch, iris_split
):
    import subprocess
    import sys

    env = {
        **__import__("os").environ,
        "NUMBA_CACHE_DIR": str(tmp_path),
        "RETROPROP_FIRST_RUN": "wait",
    }
    code = (
        "import retroprop as rp\n"
        "from retroprop.recipe import prepare_data\n"
        "s = prepare_data()\n"
        "h = rp.train(rp.mlp([4, 2, 3], seed=1), s.X_train, s.y_train, epochs=2,"
        " lr=0.1)\n"
        "print(h.engine, repr(h.loss[-1]))\n"
    )
    run = [sys.executable, "-c", code]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    indexes = [
        p for p in tmp_path.rglob("retroprop_kernel_*.nbi") if ".train_run-" in p.name
    ]
    assert indexes, "the specialised kernel was not cached"
    indexes[0].write_bytes(b"\x80\x04truncated")  # a killed process's half index
    again = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert again.stdout == first.stdout and first.stdout.startswith("fast ")
    assert "was damaged" in again.stderr


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("general", [False, True])
def test_the_fused_step_is_the_gradient_step_bit_for_bit(general, dtype):
    # Plain SGD one sample at a time writes theta - lr * grad in the backward pass
    # (backward_sgd); it must give exactly the bits of backward into a zeroed G
    # followed by sgd_plain, the path every other batch size takes: for float32
    # too (each product rounded to float32 as G holds it), and for gradients of
    # +0.0 and -0.0.
    from retroprop.fast import codegen, kernels
    from retroprop.fast.spec import Layout

    net = rp.mlp([4, 5, 3], "tanh", seed=2, dtype=dtype)
    layout = Layout.of(net)
    k = kernels if general else codegen.kernels_for(layout, LOSS_CODES["mse"])
    assert (k is kernels) == general
    arch = layout.arch
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype).type
    theta = layout.flatten(net)
    theta[int(layout.b_off[-1])] = 0.0
    A = rng.normal(size=int(layout.a_off[-1])).astype(dtype)  # negative a_prev too
    wmax = int(layout.widths.max())
    for lr, finite in ((dt(0.3), True), (dt(np.finfo(dtype).max), False)):
        delta = rng.normal(size=wmax).astype(dtype)
        delta[:2] = (0.0, -0.0)  # zero gradients, both signs
        G = np.zeros_like(theta)
        d1, scratch1 = delta.copy(), np.empty(wmax, dtype)
        k.backward(theta, G, A, d1, scratch1, *arch)
        via_g = theta.copy()
        ok_g = k.sgd_plain(via_g, G, lr)
        d2, scratch2 = delta.copy(), np.empty(wmax, dtype)
        fused = np.full_like(theta, np.nan)
        before = theta.copy()
        ok = k.backward_sgd(theta, fused, A, d2, scratch2, lr, *arch)
        assert ok == ok_g == finite
        assert theta.tobytes() == before.tobytes()  # the old parameters stay
        assert d1.tobytes() == d2.tobytes()  # the same dL/dz handed down
        if finite:
            assert fused.tobytes() == via_g.tobytes()


def test_a_negative_zero_parameter_keeps_its_sign_as_the_gradient_step_keeps_it(
    iris_split,
):
    # -0.0 - lr * (0.0 + -0.0) is -0.0 on the gradient's path, but the fused
    # step's -0.0 - lr * -0.0 is +0.0: a network holding a -0.0 trains on the
    # gradient's path (has_negative_zero). Here the first layer's weights from an
    # input that is always 0 are -0.0, and their gradients delta_o * 0 are +-0.0.
    from retroprop.fast import kernels

    X, y = iris_split.X_train.copy(), iris_split.y_train
    X[:, 0] = 0.0
    net = rp.mlp([4, 5, 3], "tanh", seed=2)
    net[0].weight.data[:, 0] = -0.0
    h = rp.train(net, X, y, epochs=2, lr=0.1, engine="fast")
    assert h.engine == "fast"
    assert np.signbit(net.state_dict()["0.weight"][:, 0]).all()
    assert kernels.has_negative_zero(np.array([1.0, -0.0]))
    assert not kernels.has_negative_zero(np.array([1.0, 0.0, -1.0]))
