"""Costs that grow as they should (issue 15, finding 7, apart from CSV loading).

``seeds`` aligns every run to one reference above ``PAIRWISE_MAX`` runs (linear, not
quadratic) and refuses more than ``MAX_SEEDS``; ``predict`` prints a summary, not a
million rows, and streams ``--json``; a report's size is estimated before training
and refused above ``MAX_REPORT_BYTES``. The timings are in
``benchmarks/bench_reliability.py`` (no timed assertions here).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
from retroprop.errors import ConfigError
from retroprop.experiments import seeds as seeds_module
from retroprop.experiments.align import (
    distances_via_reference,
    linear_names,
    pairwise_distances,
    permute_hidden,
)
from retroprop.recipe import build_network, prepare_data


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("RETROPROP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


# -- seeds ----------------------------------------------------------------------------------


def test_distances_via_reference_match_the_pairwise_ones_for_permuted_copies():
    net = rp.mlp([4, 5, 3, 2], "tanh", seed=3)
    layers = linear_names(net)
    ref = net.state_dict()
    rng = np.random.default_rng(0)
    near = {k: v + 1e-3 * rng.normal(size=v.shape) for k, v in ref.items()}
    other = rp.mlp([4, 5, 3, 2], "tanh", seed=9).state_dict()
    runs = [
        ref,
        permute_hidden(ref, layers, 0, rng.permutation(5)),  # the same function
        permute_hidden(near, layers, 1, rng.permutation(3)),
        other,
    ]
    fast = distances_via_reference(runs, 0, layers, "tanh")
    slow = pairwise_distances(runs, layers, "tanh")
    assert fast.shape == (4, 4) and np.allclose(fast, fast.T)
    np.testing.assert_allclose(np.diag(fast), 0.0)
    # the permuted copy and the perturbed one: the same distances as aligning pairs
    np.testing.assert_allclose(fast[:3, :3], slow[:3, :3], atol=1e-12)
    assert fast[0, 1] == pytest.approx(0.0, abs=1e-12)
    # an unrelated run: never closer than the best pairwise alignment found
    assert fast[0, 3] == pytest.approx(slow[0, 3])
    assert np.all(fast[3] >= slow[3] - 1e-9)


def test_seed_study_above_pairwise_max_groups_like_the_pairwise_study(monkeypatch):
    iris = prepare_data()
    kw = {"seeds": range(12), "epochs": 30, "lr": 0.05}

    def make(s):
        return build_network(iris, seed=s)

    pairwise = seeds_module.seed_study(make, iris.X_train, iris.y_train, **kw)
    monkeypatch.setattr(seeds_module, "PAIRWISE_MAX", 2)
    linear = seeds_module.seed_study(make, iris.X_train, iris.y_train, **kw)
    assert pairwise.settings["alignment"] == "pairwise"
    assert linear.settings["alignment"] == "to the lowest-loss run"
    np.testing.assert_array_equal(linear.raw_distance, pairwise.raw_distance)
    # The alignments differ (through the reference, or pair by pair and in one
    # direction), the picture they give does not: the same grouping, the same scale.
    assert linear.n_minima == pairwise.n_minima
    iu = np.triu_indices(12, 1)
    ratio = linear.aligned_distance[iu] / pairwise.aligned_distance[iu]
    assert 0.75 < np.median(ratio) < 1.25


def test_seed_study_refuses_more_runs_than_it_can_compare():
    def make(s):
        raise AssertionError("nothing may be built before the refusal")

    n = seeds_module.MAX_SEEDS + 1
    with pytest.raises(ConfigError, match="at most 2,000 runs, got 2,001"):
        seeds_module.seed_study(
            make, np.zeros((3, 4)), np.zeros(3, int), seeds=range(n)
        )


def test_cli_seeds_n_above_the_cap_is_one_line_exit_2():
    r = run("seeds", "--n", "2001", "--epochs", "1")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "2,000" in lines[0] and "square" in lines[0]


# -- predict ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_and_rows(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    model = d / "m.retroprop"
    assert run("train", "--epochs", "3", "-q", "--save", model).returncode == 0
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 1.5, size=(5000, 4)).round(3)
    data = d / "rows.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width"])
        w.writerows(X.tolist())
    return model, data, X


def test_predict_prints_a_summary_not_every_row(model_and_rows):
    model, data, X = model_and_rows
    r = run("predict", "--model", model, "--data", data)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) < 40  # 20 rows listed, then the summary
    assert "4,980 more rows" in r.stdout
    m = rp.load(model)
    counts = np.bincount(m.predict(X), minlength=3)
    summary = ", ".join(
        f"{c} {k:,}" for c, k in zip(["setosa", "versicolor", "virginica"], counts)
    )
    assert f"5,000 rows predicted: {summary}" in r.stdout
    r = run("predict", "--model", model, "--data", data, "--rows", "0")
    assert "p(setosa)" in r.stdout and "5,000 more rows" in r.stdout


def test_predict_json_is_streamed_and_complete(model_and_rows):
    model, data, X = model_and_rows
    r = run("predict", "--model", model, "--data", data, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    m = rp.load(model)
    names = ["setosa", "versicolor", "virginica"]
    assert out["predictions"] == [names[k] for k in m.predict(X)]
    np.testing.assert_allclose(
        out["probabilities"], m.predict_proba(X), rtol=0, atol=1e-15
    )
    assert out["class_names"] == names and out["accuracy"] is None


# -- report -----------------------------------------------------------------------------------


def test_report_size_estimate_bounds_the_real_page():
    from retroprop.report import record_training
    from retroprop.report.record import report_bytes

    for hidden, batch in [((4, 3), 1), ((16,), 8), ((64, 32), 1), ((64, 32), 4)]:
        one = record_training(hidden=hidden, steps=1, epochs=1, batch_size=batch)
        three = record_training(hidden=hidden, steps=3, epochs=1, batch_size=batch)
        per_step = (len(three.to_html().encode()) - len(one.to_html().encode())) / 2
        P = sum(p.data.size for p in one.net.parameters())
        estimate = report_bytes(P, batch, 1)
        assert 0.6 * estimate <= per_step <= estimate, (hidden, batch)


def test_report_too_large_is_refused_before_training():
    from retroprop.report import record_training

    class Trained(rp.Callback):
        def on_train_begin(self, state):
            raise AssertionError("training started")

    with pytest.raises(ConfigError, match=r"--steps \d+ or fewer"):
        record_training(hidden=(1024, 1024), steps=20, callbacks=[Trained()])


def test_cli_report_too_large_is_one_line_exit_2(tmp_path):
    out = tmp_path / "r.html"
    r = run("report", "--hidden", "1024,1024", "-q", "-o", out)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    from retroprop.report.record import MAX_REPORT_BYTES, report_bytes

    P = 4 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 3 + 3  # the 4-1024-1024-3 network
    fit = MAX_REPORT_BYTES // report_bytes(P, 1, 1)
    assert (
        len(lines) == 1 and "MB of HTML" in lines[0] and f"--steps {fit} " in lines[0]
    )
    assert not out.exists()
