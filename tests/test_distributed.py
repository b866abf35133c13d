"""Many networks on a Dask cluster: the same bits as a local run.

A ``LocalCluster`` with two worker processes (one thread each) on 127.0.0.1 runs
``train_many``, ``lr_sweep``, ``seed_study`` and ``grid_study`` in blocks of seeds;
every result must equal the local run bit for bit (same order, parameters, histories,
divergence flags). Also: a failing block is retried, a killed worker's block is
rescheduled, the ``--scheduler`` command-line path, ``BackpropClassifier`` in
``GridSearchCV(n_jobs=2)`` and under joblib's Dask backend, and Numba's cache filled by
two processes at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

import retroprop as rp
from retroprop.errors import ConfigError
from retroprop.fast.distributed import MIN_BLOCK, block_size_for, join, train_cells
from retroprop.recipe import build_network, network_factory, prepare_data

pytestmark = [
    pytest.mark.slow,
    # The dashboard is off, yet the scheduler's health endpoint tries port 8787 first
    # and takes another one, with this warning, when a neighbour holds it.
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use"),
]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def split():
    return prepare_data()


def assert_same_many(a, b):
    """Every field of two ManyResults, bit for bit (NaN where NaN)."""
    assert a.engine == b.engine
    assert a.iterations == b.iterations
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        assert a.params[k].tobytes() == b.params[k].tobytes(), k
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        va, vb = getattr(a, k), getattr(b, k)
        assert (va is None) == (vb is None), k
        if va is not None:
            assert va.shape == vb.shape and va.tobytes() == vb.tobytes(), k
    for k in ("diverged", "diverged_at", "seeds"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)


# -- blocks --------------------------------------------------------------------------------


def test_block_size_is_a_multiple_of_the_lanes_with_blocks_for_every_thread():
    assert block_size_for(10, 2) == MIN_BLOCK  # never below the compiled lanes
    assert block_size_for(1000, 2) == 128  # 1000 / (2 threads x 4) = 125 -> 128
    assert block_size_for(1000, 2) % MIN_BLOCK == 0
    assert block_size_for(100_000, 64) == 400  # 390.6 -> 400 = 25 x 16


def test_local_cells_report_progress_in_networks(split):
    calls = []
    mk = network_factory(split, (3,), "sigmoid")
    cell = {"make_net": mk, "X": split.X_train, "y": split.y_train, "epochs": 1}
    train_cells(
        rp.train_many,
        [{**cell, "seeds": [1, 2], "lr": 0.1}, {**cell, "seeds": [3], "lr": 0.2}],
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(2, 3), (3, 3)]


def test_join_refuses_blocks_of_different_architectures(split):
    a = rp.train_many(
        network_factory(split, (3,), "sigmoid"),
        split.X_train,
        split.y_train,
        seeds=[1],
        epochs=1,
        lr=0.1,
        engine="numpy",
    )
    b = rp.train_many(
        network_factory(split, (5,), "sigmoid"),
        split.X_train,
        split.y_train,
        seeds=[2],
        epochs=1,
        lr=0.1,
        engine="numpy",
    )
    with pytest.raises(ConfigError, match="same architecture"):
        join([a, b])


# -- bit for bit ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["fast", "numpy"])
def test_train_many_on_the_cluster_is_the_local_run_bit_for_bit(client, split, engine):
    if engine == "fast":
        pytest.importorskip("numba")
    mk = network_factory(split, (4, 3), "identity")
    # A linear network on the MSE at eta = 0.5: 5 of these 40 members overflow, so
    # the divergence flags and the frozen parameters must travel too.
    settings = {
        "seeds": range(5, 45),
        "epochs": 15,
        "lr": 0.5,
        "loss": "mse",
        "engine": engine,
    }
    local = rp.train_many(mk, split.X_train, split.y_train, **settings)
    seen = []
    remote = rp.train_many(
        mk,
        split.X_train,
        split.y_train,
        **settings,
        client=client,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert 0 < local.diverged.sum() < 40  # both kinds of member are compared
    assert_same_many(local, remote)
    # 40 networks on 2 threads: blocks of 16, 16, 8, each reported once.
    assert sorted(d for d, _ in seen) == [d for d, _ in seen]
    assert len(seen) == 3 and seen[-1] == (40, 40)
    assert remote.net(7).state_dict().keys() == local.net(7).state_dict().keys()


def test_validation_and_momentum_travel_to_the_workers(client, split):
    mk = network_factory(split, (5,), "tanh")
    settings = {
        "seeds": range(20),
        "epochs": 5,
        "lr": 0.05,
        "batch_size": 8,
        "momentum": 0.9,
        "nesterov": True,
        "validation": (split.X_test, split.y_test),
    }
    local = rp.train_many(mk, split.X_train, split.y_train, **settings)
    remote = rp.train_many(mk, split.X_train, split.y_train, **settings, client=client)
    assert remote.val_loss is not None
    assert_same_many(local, remote)


def test_a_mistake_fails_here_before_anything_is_sent(client, split):
    mk = network_factory(split, (3,), "sigmoid")
    with pytest.raises(ConfigError, match="lr"):
        rp.train_many(
            mk, split.X_train, split.y_train, seeds=[1], epochs=1, lr=-1, client=client
        )
    with pytest.raises(ConfigError, match="block_size"):
        train_cells(
            rp.train_many,
            [{"make_net": mk, "X": split.X_train, "y": split.y_train, "seeds": [1]}],
            client=client,
            block_size=0,
        )


def test_lr_sweep_on_the_cluster_is_the_local_run(client, split):
    from retroprop.experiments import lr_sweep

    mk = network_factory(split, (4, 3), "sigmoid")
    kw = {"lrs": [0.05, 0.5, 20.0], "seeds": range(24), "epochs": 10}
    local = lr_sweep(mk, split.X_train, split.y_train, **kw)
    remote = lr_sweep(mk, split.X_train, split.y_train, **kw, client=client)
    assert "diverged" in local.verdict
    assert local.loss.tobytes() == remote.loss.tobytes()
    assert local.to_json() == remote.to_json()


def test_seed_study_on_the_cluster_is_the_local_run(client, split):
    from retroprop.experiments import seed_study

    mk = network_factory(split, (4, 3), "sigmoid")
    kw = {
        "seeds": range(30),
        "epochs": 10,
        "lr": 0.1,
        "test": (split.X_test, split.y_test),
    }
    local = seed_study(mk, split.X_train, split.y_train, **kw).to_dict()
    remote = seed_study(mk, split.X_train, split.y_train, **kw, client=client).to_dict()
    local.pop("train_seconds"), remote.pop("train_seconds")
    assert local == remote


def _grid_net(split):
    return lambda hidden, seed: build_network(split, hidden, "sigmoid", seed=seed)


def test_grid_on_the_cluster_is_the_local_run_with_its_verdicts(client, split):
    from retroprop.experiments import grid_study

    kw = {
        "lrs": [0.05, 30.0],
        "hidden": [(4, 3), (8,)],
        "seeds": range(20),
        "epochs": 8,
        "test": (split.X_test, split.y_test),
    }
    local = grid_study(_grid_net(split), split.X_train, split.y_train, **kw)
    remote = grid_study(
        _grid_net(split), split.X_train, split.y_train, **kw, client=client
    )
    assert local.loss.tobytes() == remote.loss.tobytes()
    assert local.to_json() == remote.to_json()
    d = local.to_dict()
    # eta = 30 blows up: its cells are the diverged ones, the best is at eta = 0.05.
    assert {c["lr"] for c in d["diverged_cells"]} == {30.0}
    assert d["best_cell"]["lr"] == 0.05
    assert d["verdict"][1] == ["diverged", "diverged"]
    # The spread per cell is over the seeds that stayed finite.
    i, h = 0, 1
    acc = local.test_accuracy[i, h]
    assert d["mean_test_accuracy"][i][h] == pytest.approx(acc.mean())
    assert d["min_test_accuracy"][i][h] == acc.min()
    assert d["max_test_accuracy"][i][h] == acc.max()


# -- failures ------------------------------------------------------------------------------


class FailOnce:
    """``make_net`` that raises (or kills its worker) the first time it builds
    ``seed``, wherever that happens; a file in ``marker``'s folder remembers it."""

    def __init__(self, split, seed, marker, kill=False):
        self.split, self.seed, self.marker, self.kill = split, seed, str(marker), kill

    def __call__(self, seed):
        if seed == self.seed and not os.path.exists(self.marker):
            Path(self.marker).write_text("failed once")
            if self.kill:
                os._exit(1)  # the worker process dies mid-task
            raise RuntimeError("this block fails once on purpose")
        return build_network(self.split, (3,), "sigmoid", seed=seed)


def test_a_failed_block_is_retried(client, split, tmp_path):
    settings = {"seeds": range(40), "epochs": 3, "lr": 0.1}
    local = rp.train_many(
        network_factory(split, (3,), "sigmoid"),
        split.X_train,
        split.y_train,
        **settings,
    )
    flaky = FailOnce(split, 37, tmp_path / "failed")  # in the last block, on a worker
    remote = rp.train_many(
        flaky, split.X_train, split.y_train, **settings, client=client
    )
    assert (tmp_path / "failed").exists()  # it did fail once
    assert_same_many(local, remote)


def test_without_retries_the_failure_is_raised(client, split, tmp_path):
    flaky = FailOnce(split, 37, tmp_path / "failed")
    cell = {"make_net": flaky, "X": split.X_train, "y": split.y_train, "lr": 0.1}
    with pytest.raises(RuntimeError, match="fails once on purpose"):
        train_cells(
            rp.train_many,
            [{**cell, "seeds": list(range(40)), "epochs": 1}],
            client=client,
            retries=0,
        )


def test_a_killed_workers_block_is_run_again(client, split, tmp_path):
    settings = {"seeds": range(40), "epochs": 3, "lr": 0.1}
    local = rp.train_many(
        network_factory(split, (3,), "sigmoid"),
        split.X_train,
        split.y_train,
        **settings,
    )
    deadly = FailOnce(split, 20, tmp_path / "killed", kill=True)
    remote = rp.train_many(
        deadly, split.X_train, split.y_train, **settings, client=client
    )
    assert (tmp_path / "killed").exists()
    assert_same_many(local, remote)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it for the others


def test_two_threads_of_one_worker_share_numbas_workqueue_safely(split):
    """Numba's workqueue threading layer kills the process when two threads run
    parallel code at once; a worker with two threads must take its blocks in turn."""
    pytest.importorskip("numba")
    from distributed import Client, LocalCluster

    mk = network_factory(split, (4, 3), "sigmoid")
    settings = {"seeds": range(96), "epochs": 10, "lr": 0.1, "engine": "fast"}
    local = rp.train_many(mk, split.X_train, split.y_train, **settings)
    with (
        LocalCluster(
            n_workers=1,
            processes=True,
            threads_per_worker=2,
            host="127.0.0.1",
            dashboard_address=None,
            env={"NUMBA_THREADING_LAYER": "workqueue"},
        ) as cluster,
        Client(cluster) as two_threads,
    ):
        remote = train_cells(
            rp.train_many,
            [{"make_net": mk, "X": split.X_train, "y": split.y_train, **settings}],
            client=two_threads,
            block_size=16,
            retries=0,
        )[0]
        layers = two_threads.run(lambda: __import__("numba").threading_layer())
    assert set(layers.values()) == {"workqueue"}
    assert_same_many(local, remote)


# -- command line --------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_scheduler_gives_the_library_numbers(client, tmp_path):
    from retroprop.experiments import grid_study, lr_sweep, seed_study

    address = client.scheduler.address
    split = prepare_data()  # the commands' defaults: Iris, --seed 1
    grid = grid_study(
        _grid_net(split),
        split.X_train,
        split.y_train,
        lrs=[0.05, 0.5],
        hidden=[(4, 3), (6,)],
        seeds=range(1, 17),
        epochs=5,
        test=(split.X_test, split.y_test),
    )
    args = ["--lr", "0.05,0.5", "--hidden", "4,3", "--hidden", "6", "--seeds", "16"]
    out = {k: str(tmp_path / f"grid.{k}") for k in ("png", "json", "csv")}
    r = _cli(
        "sweep", "grid", *args, "--epochs", "5", "--scheduler", address,
        "-o", out["png"], "--json", out["json"], "--csv", out["csv"],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(Path(out["json"]).read_text()) == json.loads(grid.to_json())
    assert "Best cell: eta = " in r.stdout and "on the Dask cluster" in r.stdout
    rows = Path(out["csv"]).read_text().splitlines()
    assert rows[0] == "lr,hidden,seed,final_loss,final_accuracy,test_accuracy,status"
    assert len(rows) == 1 + 2 * 2 * 16
    assert Path(out["png"]).stat().st_size > 10_000

    mk = network_factory(split, (4, 3), "sigmoid")
    sweep = lr_sweep(
        mk, split.X_train, split.y_train, lrs=[0.05, 5], seeds=[1, 2, 3], epochs=3
    )
    seeds = seed_study(
        mk, split.X_train, split.y_train, seeds=range(1, 21), epochs=3, lr=0.05,
        test=(split.X_test, split.y_test),
    )  # fmt: skip
    for command, result in (
        (["sweep", "lr", "--values", "0.05,5", "--seeds", "3", "--epochs", "3"], sweep),
        (["seeds", "--n", "20", "--epochs", "3"], seeds),
    ):
        r = _cli(*command, "-o", out["png"], "--json", "-", "--scheduler", address)
        assert r.returncode == 0, r.stderr
        got, want = json.loads(r.stdout), json.loads(result.to_json())
        got.pop("train_seconds", None), want.pop("train_seconds", None)
        assert got == want


def test_cli_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _cli(
        "seeds", "--n", "2", "--epochs", "1", "-o", str(tmp_path / "s.png"),
        "--scheduler", f"tcp://127.0.0.1:{port}",
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "cannot reach a Dask scheduler" in r.stderr
    assert "dask scheduler" in r.stderr and "Traceback" not in r.stderr


def test_cli_grid_refuses_a_shape_twice():
    r = _cli("sweep", "grid", "--hidden", "4,3", "--hidden", "4,3")
    assert r.returncode == 2 and "each shape once" in r.stderr


# -- scikit-learn and joblib ---------------------------------------------------------------


def _search():
    from sklearn.model_selection import GridSearchCV

    from retroprop.sklearn import BackpropClassifier

    return lambda n_jobs: GridSearchCV(
        BackpropClassifier(max_iter=5, random_state=0),
        {"learning_rate_init": [0.05, 0.2], "hidden_layer_sizes": [(3,), (4, 3)]},
        cv=3,
        n_jobs=n_jobs,
    )


def test_backprop_classifier_in_grid_search_with_two_processes(split):
    pytest.importorskip("sklearn")
    make = _search()
    serial = make(1).fit(split.X_train, split.y_train)
    parallel = make(2).fit(split.X_train, split.y_train)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


def test_backprop_classifier_under_joblibs_dask_backend(client, split):
    pytest.importorskip("sklearn")
    import joblib

    make = _search()
    serial = make(1).fit(split.X_train, split.y_train)
    with joblib.parallel_backend("dask"):
        on_dask = make(-1).fit(split.X_train, split.y_train)
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        on_dask.predict(split.X_test), serial.predict(split.X_test)
    )


def test_two_processes_compiling_into_one_empty_numba_cache(tmp_path):
    """What GridSearchCV(n_jobs=2) does on a fresh install: two processes fit
    BackpropClassifiers (the compiled per-sample kernels) at the same time, both
    compiling into the same empty cache; then two more load it."""
    pytest.importorskip("numba")
    pytest.importorskip("sklearn")
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    code = textwrap.dedent(
        """
        import sys, warnings
        from retroprop.recipe import prepare_data
        from retroprop.sklearn import BackpropClassifier
        warnings.simplefilter("ignore")
        split = prepare_data()
        clf = BackpropClassifier(max_iter=3, random_state=0)
        clf.fit(split.X_train, split.y_train)
        sys.stdout.write(clf.coefs_[0].tobytes().hex())
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    run = [sys.executable, "-c", code]
    procs = [
        subprocess.Popen(
            run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    written = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nb[ic]")}
    assert any(p.suffix == ".nbi" for p in written)
    assert any(p.suffix == ".nbc" for p in written)
    # The fit ran the compiled per-sample kernels: they are what was cached.
    assert any("train_epoch" in p.name for p in written)
    # Two more load what was written (a recompile would rewrite the files) and all
    # four agree with a fit in this process, bit for bit.
    again = [
        subprocess.run(run, env=env, capture_output=True, text=True, timeout=600)
        for _ in range(2)
    ]
    assert [r.returncode for r in again] == [0, 0], [r.stderr for r in again]
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nb[ic]")} == written
    from retroprop.sklearn import BackpropClassifier

    split = prepare_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = BackpropClassifier(max_iter=3, random_state=0)
        ref = ref.fit(split.X_train, split.y_train).coefs_[0]
    for out in [o for o, _ in outs] + [r.stdout for r in again]:
        assert out == ref.tobytes().hex()


def test_import_retroprop_loads_no_dask():
    probe = (
        "import sys, retroprop, retroprop.fast.distributed, retroprop.experiments\n"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
