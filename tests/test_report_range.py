"""``retroprop report --every N --from K --to M``: which iterations are recorded.

The recorded traces must be the training run's own steps wherever they are taken:
each one equal to ``retroprop explain --step k --format json`` of the same iteration,
and the trace's ``updated`` equal to the parameters the training loop produced.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from retroprop.cli import cli
from retroprop.errors import ConfigError
from retroprop.report import record_training
from retroprop.report.record import RecordSteps


def test_wanted_iterations():
    rec = RecordSteps(None, None, 0.05, steps=3, every=10, start=5, stop=40)
    assert [k for k in range(1, 60) if rec.wanted(k)] == [5, 15, 25, 35]
    rec.traces = [None] * 3  # three recorded: no more
    assert not rec.wanted(35)
    first = RecordSteps(None, None, 0.05, steps=20)  # the default: 1, 2, 3, ...
    assert all(first.wanted(k) for k in range(1, 21))


def test_every_nth_from_k_are_the_training_steps():
    rec = record_training(steps=4, every=50, start=30, epochs=3)
    assert rec.recorder.iterations == [30, 80, 130, 180]
    assert rec.recorder.epochs == [1, 1, 2, 2]  # 120 iterations an epoch
    assert rec.recorder.max_mismatch == 0.0
    steps = [s["iteration"] for s in rec.steps()]
    assert steps == [30, 80, 130, 180]
    # the trace of iteration 130 is `retroprop explain --step 130`'s, number for number
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "explain",
            "--step",
            "130",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    explained = json.loads(out)
    recorded = json.loads(rec.recorder.traces[2].to_json())
    for a, b in zip(recorded["parameters"], explained["parameters"], strict=True):
        assert (a["name"], a["index"]) == (b["name"], b["index"])
        for key in ("value", "grad", "updated"):
            assert a[key] == b[key]


def test_a_range_past_the_first_thousand_steps():
    rec = record_training(steps=1000, start=5000, stop=5003, epochs=50)
    assert rec.recorder.iterations == [5000, 5001, 5002, 5003]
    assert rec.recorder.max_mismatch == 0.0


def test_bad_ranges_are_refused():
    with pytest.raises(ConfigError, match="--from"):
        record_training(start=10_000, epochs=2)
    with pytest.raises(ConfigError, match="--to"):
        record_training(start=10, stop=5, epochs=1)
    with pytest.raises(ConfigError, match="every"):
        record_training(every=0, epochs=1)


def test_cli_every_from_to(tmp_path):
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli,
        [
            "report",
            "--every",
            "100",
            "--from",
            "1001",
            "--to",
            "1400",
            "--epochs",
            "20",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "4 recorded steps of 2400 iterations" in " ".join(res.output.split())
    html = out.read_text("utf-8")
    for k in (1001, 1101, 1201, 1301):
        assert f'"iteration":{k},' in html


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--every", "0"], "--every"),
        (["--from", "0"], "--from"),
        (["--from", "99999", "--epochs", "1"], "--from"),
        (["--from", "10", "--to", "3", "--epochs", "1"], "--to"),
    ],
)
def test_cli_bad_ranges_exit_2_in_one_line(tmp_path, args, words):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "report",
            *args,
            "-q",
            "-o",
            str(tmp_path / "a.html"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert words in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
