"""`retroprop verify` and interop.verify: agreement with PyTorch, and that it can fail."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

import retroprop as rp
from retroprop.cli import main
from retroprop.interop.verify import sample_order, verify


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_default_verify_passes(capsys):
    code, out, err = run(["verify"], capsys)
    assert code == 0, err
    assert "100 SGD steps" in out and "float64, tolerance 1e-10" in out
    assert "PASS: all 13 quantities agree within 1e-10" in out
    assert "FAIL" not in out


def test_json_reports_every_quantity(capsys):
    code, out, _ = run(["verify", "--steps", "30", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["passed"] is True and result["steps"] == 30
    names = [(c["kind"], c["name"]) for c in result["comparisons"]]
    params = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert names == [("loss", "loss")] + [("gradient", p) for p in params] + [
        ("parameter", p) for p in params
    ]
    # the loss compared at each of the 30 steps; 4x4 weights at each step
    by_name = {(c["kind"], c["name"]): c for c in result["comparisons"]}
    assert by_name[("loss", "loss")]["values"] == 30
    assert by_name[("gradient", "0.weight")]["values"] == 30 * 16
    assert max(c["max_abs"] for c in result["comparisons"]) < 1e-13
    assert len(result["losses"]) == 30


def test_a_wrong_derivative_fails_with_exit_1(capsys, monkeypatch):
    """sigmoid' off by one part in a million: only what is below a sigmoid fails."""
    from retroprop.engine.activations import Sigmoid

    monkeypatch.setattr(
        Sigmoid, "f_prime", staticmethod(lambda z, a: a * (1.0 - a) * (1.0 + 1e-6))
    )
    code, out, _ = run(["verify", "--steps", "1", "--json"], capsys)
    assert code == 1
    result = json.loads(out)
    failed = {(c["kind"], c["name"]) for c in result["comparisons"] if not c["passed"]}
    # The loss and the last layer's gradients do not involve sigmoid'; the layers
    # below it do, and so do their parameters after the step.
    assert failed == {
        ("gradient", "0.weight"),
        ("gradient", "0.bias"),
        ("gradient", "2.weight"),
        ("gradient", "2.bias"),
        ("parameter", "0.weight"),
        ("parameter", "0.bias"),
        ("parameter", "2.weight"),
        ("parameter", "2.bias"),
    }
    code, out, _ = run(["verify", "--steps", "3"], capsys)
    assert code == 1
    assert "FAIL: " in out and "gradient 0.weight" in out


def test_too_tight_a_tolerance_fails(capsys):
    # float32 disagrees with torch in the last bits; 1e-12 cannot hold
    code, out, _ = run(
        ["verify", "--dtype", "float32", "--steps", "20", "--tolerance", "1e-12"],
        capsys,
    )
    assert code == 1
    code, out, _ = run(["verify", "--dtype", "float32", "--steps", "20"], capsys)
    assert code == 0 and "tolerance 1e-05" in out


def test_without_torch_exit_2_with_install_command(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    code, out, err = run(["verify", "--steps", "2"], capsys)
    assert code == 2 and out == ""
    assert 'pip install "torch==2.13.0"' in err and "retroprop[torch]" in err
    assert "Traceback" not in err


def test_options_reach_both_sides(capsys):
    code, out, _ = run(
        [
            "verify",
            "--hidden",
            "5",
            "--activation",
            "tanh",
            "--steps",
            "25",
            "--batch-size",
            "7",
            "--momentum",
            "0.9",
            "--nesterov",
            "--weight-decay",
            "0.01",
            "--lr",
            "0.2",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert [layer.get("name") for layer in result["architecture"]] == [
        None,
        "tanh",
        None,
    ]
    assert (result["batch_size"], result["momentum"], result["nesterov"]) == (
        7,
        0.9,
        True,
    )
    assert result["weight_decay"] == 0.01 and result["lr"] == 0.2


def test_verify_a_saved_model(tmp_path, capsys):
    net = rp.mlp([4, 6, 3], "relu", seed=4)
    rp.save(rp.Model(net, class_names=["a", "b", "c"]), tmp_path / "m.rpm")
    code, out, _ = run(
        ["verify", "--model", str(tmp_path / "m.rpm"), "--steps", "10", "--json"],
        capsys,
    )
    assert code == 0
    assert [layer.get("name") for layer in json.loads(out)["architecture"]] == [
        None,
        "relu",
        None,
    ]
    small = rp.mlp([4, 2], seed=0)
    rp.save(rp.Model(small, class_names=["a", "b"]), tmp_path / "small.rpm")
    code, _, err = run(["verify", "--model", str(tmp_path / "small.rpm")], capsys)
    assert code == 2 and "has 2 outputs" in err


def test_library_result_and_sample_order(iris_split):
    s = iris_split
    net = rp.mlp([4, 4, 3, 3], seed=1)
    before = net.state_dict()
    result = verify(net, s.X_train, s.y_train, steps=5, batch_size=50)
    assert result.passed and result.steps == 5
    for name, value in net.state_dict().items():  # the caller's network is untouched
        np.testing.assert_array_equal(value, before[name])
    # 120 samples in batches of 50: 50, 50, 20 per epoch, a new permutation each
    sizes = [len(b) for b in sample_order(120, 5, 50, seed=0)]
    assert sizes == [50, 50, 20, 50, 50]
    with pytest.raises(rp.ConfigError, match="dtype must be one of"):
        verify(net, s.X_train, s.y_train, dtype="float16")


def test_too_large_an_lr_is_both_diverging_exit_2_in_one_line(capsys):
    # relu lets the outputs grow without bound: with lr=1e6 both sides' updates
    # overflow at the same step. Nothing differs: exit 2 and one line, no warnings.
    code, out, err = run(
        ["verify", "--activation", "relu", "--hidden", "8", "--lr", "1e6"], capsys
    )
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Warning" not in err, err
    assert "both diverge at step" in lines[0] and "smaller --lr" in lines[0]
    step = int(lines[0].split("at step ")[1].split(";")[0])
    from retroprop.recipe import LECTURE, build_network, prepare_data

    seed = LECTURE["seed"]  # what the command used
    s = prepare_data(seed=seed)
    net = build_network(s, [8], "relu", seed=seed)
    result = verify(
        net, s.X_train, s.y_train, lr=1e6, seed=seed, batch_size=LECTURE["batch_size"]
    )
    assert result.retroprop_diverged_at == result.torch_diverged_at == step
    assert result.passed and result.both_diverged  # every step before agreed
    assert all(c.values == step - 1 for c in result.comparisons if c.kind == "loss")


def test_only_one_side_diverging_is_a_difference_exit_1(capsys, monkeypatch):
    from retroprop.engine.optim import SGD

    real, calls = SGD.step, []

    def refuses_the_third(self):
        calls.append(1)
        if len(calls) == 3:
            raise rp.DivergenceError("refused", epoch=1, iteration=3, lr=0.05)
        return real(self)

    monkeypatch.setattr(SGD, "step", refuses_the_third)
    code, out, err = run(["verify", "--steps", "10"], capsys)
    assert code == 1, err
    assert "retroprop diverged at step 3, PyTorch did not diverge" in out


def test_step_is_not_an_activation_choice_and_a_step_model_says_why(tmp_path, capsys):
    from retroprop.engine.activations import STEP_WHY

    code, _, err = run(["verify", "--activation", "step"], capsys)
    assert code == 2 and "'step' is not one of" in err
    net = rp.Sequential(rp.Linear(4, 3), rp.Step(), rp.Linear(3, 3))
    rp.save(rp.Model(net, class_names=["a", "b", "c"]), tmp_path / "s.rpm")
    code, _, err = run(["verify", "--model", str(tmp_path / "s.rpm")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert STEP_WHY in err


@pytest.mark.parametrize(
    ("activation", "lr", "kind", "words"),
    [
        ("sigmoid", "100", "growing", "times where it started"),
        ("relu", "10", "dead", "no longer depend on its input"),
    ],
)
def test_both_growing_or_dead_is_both_diverging_exit_2(
    capsys, activation, lr, kind, words
):
    """No step overflows, but both runs end diverged by rp.train's definition (the
    same kind and message train gives): too large an eta, exit 2 in one line."""
    argv = ["verify", "--activation", activation, "--lr", lr, "--batch-size", "full"]
    code, out, err = run(argv, capsys)  # 100 steps = 100 epochs of rp.train
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "both diverge at step 100;" in lines[0], err
    assert words in lines[0] and "smaller --lr" in lines[0]
    from retroprop.recipe import LECTURE, build_network, prepare_data

    seed = LECTURE["seed"]  # what the command used
    s = prepare_data(seed=seed)
    n = len(s.y_train)
    result = verify(
        build_network(s, [4, 3], activation, seed=seed),
        s.X_train,
        s.y_train,
        lr=float(lr),
        seed=seed,
        batch_size=n,
    )
    assert result.retroprop_diverged_at == result.torch_diverged_at == 100
    assert result.retroprop_divergence == result.torch_divergence == kind
    assert result.both_diverged
    with pytest.raises(rp.DivergenceError) as by_train:
        rp.train(
            build_network(s, [4, 3], activation, seed=seed),
            s.X_train,
            s.y_train,
            epochs=100,
            lr=float(lr),
            batch_size=n,
            seed=seed,
        )
    # train's kind (its sample order sums the batch in another order: the chaotic
    # dead run's loss differs in the 5th digit)
    assert words in by_train.value.what and words in result.retroprop_divergence_what
    if kind == "growing":
        assert result.retroprop_divergence_what == by_train.value.what
    assert f"retroprop: {result.retroprop_divergence_what}; PyTorch: " in lines[0]


def test_only_one_side_growing_is_a_failure_exit_1(capsys, monkeypatch):
    """retroprop's updates made 2000 times larger: its loss grows, PyTorch's does
    not. Only one side diverging is a difference (exit 1), named with its kind."""
    from retroprop.engine.optim import SGD

    real = SGD.step

    def too_large(self):
        lr, self.lr = self.lr, self.lr * 2000
        try:
            return real(self)
        finally:
            self.lr = lr

    monkeypatch.setattr(SGD, "step", too_large)
    code, out, err = run(["verify", "--json"], capsys)
    assert code == 1, err
    data = json.loads(out)
    assert (
        data["retroprop_divergence"] == "growing" and data["torch_divergence"] is None
    )
    assert data["retroprop_diverged_at"] == 100 and data["torch_diverged_at"] is None
    code, out, err = run(["verify"], capsys)
    assert code == 1, err
    assert "retroprop diverged at step 100, PyTorch did not diverge" in out
    assert "retroprop: the loss ended at" in out
