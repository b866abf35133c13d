"""Shared test setup.

Every test runs with NumPy's floating-point errors raised (overflow, invalid, divide;
underflow to zero is allowed): a warning in the engine is a bug, not noise.

The compiled kernels (Numba, when installed) are built once at the start of the
session by ``_compiled_kernels``, not inside whichever test first reaches one: a
cold build takes minutes and would be charged to that test (or its timeout).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

# The suite asserts English output; the language tests (test_i18n.py) ask for theirs.
os.environ["RETROPROP_LANG"] = "en"
# Compile in the test's process (not on the NumPy engine while another process
# compiles, as a machine's first short run does): tests that ask for the fast path
# get it. test_fast_first_run.py tests the background way.
os.environ["RETROPROP_FIRST_RUN"] = "wait"


@pytest.fixture(scope="session", autouse=True)
def _compiled_kernels():
    """Run every compiled path once on tiny data, for each dtype the suite uses:
    Numba compiles (or loads from its disk cache) each kernel for those types."""
    from retroprop.fast import numba_available

    if not numba_available():
        yield
        return
    import retroprop as rp
    from retroprop.fast import blas
    from retroprop.fast.blas import BlasRunner

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 2, size=12)
    with np.errstate(all="ignore"):
        for dtype in (np.float64, np.float32):
            Xd = X.astype(dtype)
            for loss in ("cross_entropy", "mse"):
                rp.train(
                    rp.mlp([3, 4, 2], seed=0, dtype=dtype),
                    Xd,
                    y,
                    epochs=1,
                    lr=0.1,
                    batch_size=4,
                    loss=loss,
                    validation=(Xd[:5], y[:5]),
                    engine="fast",
                )
                for momentum in (0.0, 0.9):  # the fused update and SGD.step's
                    net = rp.mlp([3, 4, 2], seed=0, dtype=dtype)
                    opt = rp.SGD(net.parameters(), lr=0.1, momentum=momentum)
                    runner = BlasRunner(net, Xd, y, loss=loss, batch_size=4, opt=opt)
                    runner.run_epoch(np.arange(12), 1, 0)
                    runner.evaluate(net, Xd[:5], y[:5], loss)
            z = Xd.copy()
            blas.activation_forward(2, 0.0, z, np.empty_like(z))  # tests call it
        rp.train_many(
            lambda s: rp.mlp([3, 4, 2], seed=s),
            X,
            y,
            seeds=[0, 1],
            epochs=1,
            lr=0.1,
            validation=(X[:5], y[:5]),
            engine="fast",
        )
    yield


@pytest.fixture(autouse=True)
def _raise_on_float_errors():
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


@pytest.fixture
def iris_split():
    """The lecture's data, split and standardised exactly as `retroprop train` does."""
    from retroprop.recipe import prepare_data

    return prepare_data()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per test module."""
    from helpers import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (CI's .ci/run installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
