"""Shared test setup.

Every test runs with NumPy's floating-point errors raised (overflow, invalid, divide;
underflow to zero is allowed): a warning in the engine is a bug, not noise.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _raise_on_float_errors():
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        yield


@pytest.fixture
def iris_split():
    """The lecture's data, split and standardised exactly as `retroprop train` does."""
    from retroprop.recipe import prepare_data

    return prepare_data()
