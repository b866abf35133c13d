"""The benchmark command runs end to end (``python -m benchmarks --quick``).

A smoke test only: it checks that every case runs and prints its table with a
ratio for each peer; the timings themselves are not asserted (benchmarks are not
timed tests).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from retroprop.fast.spec import numba_available

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(not numba_available(), reason="needs numba")
def test_quick_benchmark_runs_and_prints_every_case():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "machine:" in text and "BLAS:" in text
    for title in ("(a) Iris 4-4-3-3", "(b) 40 Iris networks", "(c) one epoch"):
        assert title in text
    rows = [ln for ln in text.splitlines() if ln.startswith(("| a:", "| b:", "| c:"))]
    # retroprop's own rows, then one row per peer with a ratio like "12.3x".
    assert any("retroprop train (auto: compiled)" in r for r in rows)
    assert any("retroprop train_many" in r for r in rows)
    assert (
        sum("float32" in r for r in rows) >= 2
        and sum("float64" in r for r in rows) >= 2
    )
    ratios = [r for r in rows if re.search(r"\|\s+\d+\.\dx \|", r)]
    assert len(ratios) >= 4


def test_benchmark_rejects_an_unknown_case():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "z"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--only" in out.stderr


def test_verdicts_are_the_issues_setting_and_the_other_view_is_shown_beside():
    # PASS/MISS only where the measurement is the issue's own (wall time, all
    # cores); the one-thread/CPU view of the same target is printed with its
    # value and whether it is met, and decides nothing.
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.__main__ import mark
        from benchmarks.large import targets
    finally:
        sys.path.remove(str(ROOT))
    assert mark("x", 1.9, 2, "below") == "PASS x: 1.90 (target <= 2)"
    assert mark("x", 2.1, 2, "below") == "MISS x: 2.10 (target <= 2)"
    assert mark("y", 1.4, 1.5, "above", False) == "also y: 1.40 (not met: >= 1.5)"
    result = {
        ("float32", "all cores"): {"auto": 1.0, "torch": 1.3, "sklearn": 1.6},
        ("float32", "1 thread"): {"auto": 1.0, "torch": 1.3, "sklearn": 1.4},
    }
    lines = [mark(*t) for t in targets(result)]
    assert lines == [
        (
            "PASS (c) float32, all cores: PyTorch training only / retroprop: 1.30 "
            "(target >= 1.2)"
        ),
        "PASS (c) float32, all cores: scikit-learn / retroprop: 1.60 (target >= 1.5)",
        (
            "also (c) float32, 1 thread: PyTorch training only / retroprop: 1.30 "
            "(met: >= 1.2)"
        ),
        "also (c) float32, 1 thread: scikit-learn / retroprop: 1.40 (not met: >= 1.5)",
    ]
