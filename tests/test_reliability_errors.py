"""The remaining "internal error"s of issue 15, finding 10: one line, the right exit.

Each case of the finding, run as the real command in a subprocess (NumPy's default
error handling, stderr off a terminal): bad input is exit 2 with one line naming it,
a run that diverged is exit 1 with one line, and a command that succeeded writes
nothing to stderr (no blank line, no warning).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("RETROPROP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
        check=False,
    )


def one_line(r: subprocess.CompletedProcess, code: int, *pieces: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "internal error" not in lines[0] and "Traceback" not in r.stderr
    for p in pieces:
        assert p in lines[0], lines[0]


def test_hidden_too_large_to_count():
    one_line(run("train", "--hidden", "99999999999999999999"), 2, "use smaller layers")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_verify_float32_with_an_eta_float32_cannot_hold():
    one_line(
        run("verify", "--dtype", "float32", "--lr", "1e300"),
        2,
        "lr=1e+300 does not fit in float32",
    )


def test_plot_activations_over_a_range_wider_than_float64(tmp_path):
    r = run("plot", "activations", "--range", "-1e308,1e308", "-o", tmp_path / "a.png")
    one_line(r, 2, "too wide")
    assert not (tmp_path / "a.png").exists()


def test_seeds_at_a_huge_eta_reports_divergence_not_an_infeasible_cost(tmp_path):
    r = run(
        "seeds", "--lr", "1e300", "--n", "3", "--epochs", "2", "-o", tmp_path / "s.png"
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "3 runs diverged" in r.stdout


def test_surface_at_a_huge_eta_is_a_divergence(tmp_path):
    r = run("surface", "--lr", "1e300", "-q", "-o", tmp_path / "s.png")
    one_line(r, 1, "training diverged", "lr=1e+300")


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "lr", "--values", "0.05,10", "--seeds", "2", "--epochs", "3"],
        ["seeds", "--n", "3", "--epochs", "2"],
    ],
)
def test_experiment_commands_write_nothing_to_stderr_off_a_terminal(tmp_path, args):
    r = run(*args, "-o", tmp_path / "p.png")
    assert r.returncode == 0
    assert r.stderr == ""
