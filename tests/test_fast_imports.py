"""``import retroprop`` stays light: no Numba, PyTorch, scikit-learn or matplotlib.

Checked in a fresh interpreter, where nothing else has imported them first.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numba", "torch", "sklearn", "matplotlib", "scipy", "llvmlite")


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_retroprop_loads_no_heavy_dependency():
    assert _loaded_after("import retroprop as rp; rp.train_many; rp.ManyResult") == []


def test_the_numpy_engine_never_loads_numba():
    code = (
        "import numpy as np, retroprop as rp\n"
        "X = np.random.default_rng(0).normal(size=(20, 4))\n"
        "y = np.arange(20) % 3\n"
        "rp.train(rp.mlp([4, 3, 3]), X, y, epochs=1, lr=0.1, engine='numpy')\n"
        "rp.train_many(lambda s: rp.mlp([4, 3, 3], seed=s), X, y, seeds=[1, 2],\n"
        "              epochs=1, lr=0.1, engine='numpy')"
    )
    assert _loaded_after(code) == []
