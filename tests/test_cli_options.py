"""The thin command line: one set of option ranges, choices read from the registries,
one progress bar, and every command's ``--json`` carrying the result's own verdicts.

The commands run in-process through ``retroprop.cli.main`` with small settings.
"""

from __future__ import annotations

import io
import json
import sys

import click
import numpy as np
import pytest

import retroprop as rp
from retroprop.cli.options import EPOCHS, LR, activation_choice
from retroprop.cli.progress import ProgressBar


def run(capsys, *args) -> tuple[int, str, str]:
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def one_line_error(code: int, err: str, *pieces: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for p in pieces:
        assert p in lines[0], lines[0]
    return lines[0]


TRAINING_COMMANDS = [
    ["train"],
    ["report"],
    ["sweep", "lr"],
    ["seeds"],
    ["surface"],
    ["plot", "boundary"],
]
"""Every command that takes --epochs."""


# -- one set of ranges ---------------------------------------------------------------------


@pytest.mark.parametrize("command", TRAINING_COMMANDS, ids=" ".join)
def test_epochs_is_at_least_one_in_every_command(command, capsys, tmp_path):
    code, out, err = run(capsys, *command, "--epochs", "0", "-q")
    one_line_error(code, err, "--epochs", "no update", "at least 1")
    assert out == ""


@pytest.mark.parametrize(
    "command",
    [c for c in TRAINING_COMMANDS if c != ["sweep", "lr"]] + [["explain"], ["verify"]],
    ids=" ".join,
)
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_lr_is_a_positive_finite_number_in_every_command(command, value, capsys):
    args = [*command, "--lr", value]
    code, _, err = run(capsys, *args)
    one_line_error(code, err, "--lr", repr(value))


@pytest.mark.parametrize(
    "args",
    [
        ["seeds", "--tolerance"],
        ["seeds", "--worse-by"],
        ["surface", "--span"],
        ["verify", "--tolerance"],
        ["train", "--momentum"],
        ["train", "--weight-decay"],
        ["train", "--test-size"],
    ],
    ids=" ".join,
)
def test_other_numbers_refuse_nan(args, capsys):
    code, _, err = run(capsys, *args, "nan")
    one_line_error(code, err, args[-1], "'nan'", "finite")


def test_the_types_directly():
    assert EPOCHS.convert("3", None, None) == 3
    assert LR.convert("0.05", None, None) == 0.05
    for bad in ("0", "-0.1", "nan", "-inf", "inf"):
        with pytest.raises(click.BadParameter):
            LR.convert(bad, None, None)
    with pytest.raises(click.BadParameter, match="no update"):
        EPOCHS.convert("0", None, None)


@pytest.mark.parametrize(
    "command",
    [
        ["train"],
        ["report"],
        ["verify"],
        ["sweep", "lr"],
        ["seeds"],
        ["surface"],
        ["plot", "boundary"],
    ],
    ids=" ".join,
)
def test_commands_that_train_do_not_offer_the_step(command, capsys):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "--activation [identity|leaky_relu|relu|sigmoid|tanh]" in out
    code, _, err = run(capsys, *command, "--activation", "step")
    one_line_error(code, err, "--activation", "'step'", "derivative")


def test_plot_activations_still_draws_the_step(capsys, tmp_path):
    code, out, err = run(
        capsys, "plot", "activations", "--functions", "step", "-o", tmp_path / "a.png"
    )
    assert code == 0, err
    assert "jumps at 0" in out


# -- choices read from the registries when used ------------------------------------------


class Softsign(rp.engine.activations.Activation):
    name = "softsign"
    f = staticmethod(lambda z: z / (1.0 + np.abs(z)))
    f_prime = staticmethod(lambda z, a: 1.0 / (1.0 + np.abs(z)) ** 2)


class Jump(rp.engine.activations.Activation):
    name = "jump"
    differentiable = False
    f = staticmethod(lambda z: (z > 0).astype(z.dtype))


def test_activation_choices_follow_the_registry(monkeypatch, capsys):
    choice = activation_choice(trainable=True)
    assert "softsign" not in choice.choices
    with pytest.raises(click.BadParameter):
        choice.convert("softsign", None, None)
    # registered after the option was built: offered, with no rebuild
    monkeypatch.setitem(rp.ACTIVATIONS, "softsign", Softsign)
    monkeypatch.setitem(rp.ACTIVATIONS, "jump", Jump)
    assert choice.convert("softsign", None, None) == "softsign"
    assert "softsign" in choice.choices and "jump" not in choice.choices
    with pytest.raises(click.BadParameter, match=r"'jump' is not one of.*derivative"):
        choice.convert("jump", None, None)
    assert "jump" in activation_choice(trainable=False).choices
    code, out, _ = run(capsys, "seeds", "--help")
    assert code == 0 and "softsign" in out and "jump" not in out


# -- one progress bar -------------------------------------------------------------------------


def test_no_progress_output_off_a_terminal(capsys, tmp_path):
    code, _out, err = run(capsys, "train", "--epochs", "2")
    assert code == 0
    assert err == ""  # not even a blank line: stderr is not a terminal here
    code, _, err = run(
        capsys, "sweep", "lr", "--values", "0.1", "--seeds", "1", "--epochs", "2",
        "-o", tmp_path / "s.png",
    )  # fmt: skip
    assert code == 0 and err == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_follows_training(monkeypatch, iris_split):
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    assert not ProgressBar(quiet=True).enabled
    net = rp.mlp([4, 4, 3, 3], seed=1)
    with ProgressBar() as bar:
        assert bar.enabled
        history = rp.train(
            net,
            iris_split.X_train,
            iris_split.y_train,
            epochs=3,
            lr=0.05,
            callbacks=[bar.epochs(3)],
        )
        (task,) = bar._progress.tasks
        assert (task.completed, task.total) == (3, 3)
        assert task.fields["info"] == f"loss {history.loss[-1]:.4f}"
    assert bar._progress is None  # stopped on leaving


# -- --json carries the verdicts ---------------------------------------------------------------


def json_of(capsys, tmp_path, *args) -> dict:
    """The command's ``--json -`` output: JSON alone on stdout."""
    code, out, err = run(capsys, *args, "-o", tmp_path / "p.png", "--json", "-", "-q")
    assert code == 0, err
    return json.loads(out)


def test_sweep_json_and_table_carry_the_verdict(capsys, tmp_path):
    args = ["sweep", "lr", "--values", "0.05,10", "--seeds", "2", "--epochs", "10"]
    data = json_of(capsys, tmp_path, *args)
    # ten epochs at eta = 0.05 leave the sigmoid network above half its start
    assert data["verdict"] == ["too slow", "diverged"]
    assert data["loss_ratio"][0] > 0.5
    assert data["divergence_kinds"] == [[], ["growing"]]
    assert data["thresholds"] == {"too_slow": 0.5, "bouncing": 0.5}
    assert data["best_lr"] == 0.05
    code, out, _ = run(capsys, *args, "-o", tmp_path / "p.png", "-q")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert "too slow" in rows[0] and "diverged (growing)" in rows[1]


def test_seeds_json_carries_the_answers(capsys, tmp_path):
    data = json_of(capsys, tmp_path, "seeds", "--n", "3", "--epochs", "3")
    answers = data["answers"]
    assert answers["same_minimum"]["question"] == (
        "Do two trainings reach the same minimum?"
    )
    assert answers["same_minimum"]["answer"] in ("yes", "no")
    assert answers["same_minimum"]["numbers"]["distinct_minima"] == data["n_minima"]
    assert answers["global_minimum"]["answer"] == "not guaranteed"
    assert answers["global_minimum"]["numbers"]["clearly_worse"] == data["n_worse"]


def test_seeds_says_cannot_tell_when_every_run_diverged(capsys, tmp_path):
    args = ["seeds", "--n", "2", "--epochs", "2", "--lr", "1e8", "--hidden", "8"]
    code, out, err = run(
        capsys, *args, "--activation", "relu", "-o", tmp_path / "s.png"
    )
    assert code == 0, err
    assert "cannot tell: 2 of 2 runs diverged" in " ".join(out.split())


def test_surface_json_carries_the_barrier_answer(capsys, tmp_path):
    data = json_of(
        capsys, tmp_path, "surface", "--epochs", "2", "--resolution", "3",
        "--points", "5",
    )  # fmt: skip
    assert data["same_valley"]["answer"] in ("yes", "no")
    assert data["has_barrier"] == (data["same_valley"]["answer"] == "no")
    assert data["same_valley"]["numbers"]["threshold"] == pytest.approx(
        0.1 * max(data["final_loss"]) + 1e-3
    )


def test_descent_json_carries_each_outcome(capsys, tmp_path):
    data = json_of(capsys, tmp_path, "plot", "descent")
    outcomes = [r["outcome"] for r in data["runs"]]
    assert "converged to the global minimum" in outcomes
    assert "converged to a LOCAL minimum, not the global one" in outcomes
    assert {r["ended_in"] for r in data["runs"]} >= {"global minimum", "local minimum"}


def test_boundary_json_carries_the_accuracies(capsys, tmp_path):
    data = json_of(
        capsys, tmp_path, "plot", "boundary", "--epochs", "2", "--resolution", "10"
    )
    assert 0 <= data["accuracy"] <= 1 and 0 <= data["slice_accuracy"] <= 1
    assert sum(data["class_share"]) == pytest.approx(1.0)
    assert sum(data["class_points"]) == 120


def test_activations_json_carries_the_summary(capsys, tmp_path):
    data = json_of(capsys, tmp_path, "plot", "activations")
    trainable = {row["name"]: row["trainable"] for row in data["summary"]}
    assert trainable == {"sigmoid": True, "tanh": True, "relu": True, "step": False}


def test_json_file_and_stdout_agree(capsys, tmp_path):
    js = tmp_path / "d.json"
    code, _, err = run(
        capsys, "plot", "descent", "-o", tmp_path / "d.png", "--json", js
    )
    assert code == 0, err
    assert json.loads(js.read_text()) == json_of(capsys, tmp_path, "plot", "descent")


def test_an_output_folder_that_does_not_exist_is_refused_before_work(capsys, tmp_path):
    code, _, err = run(
        capsys, "seeds", "--n", "2", "-o", tmp_path / "no" / "s.png", "-q"
    )
    one_line_error(code, err, "--output", "does not exist")


def test_command_modules_import_nothing_heavy():
    # Each command imports what it needs when it runs; building the CLI (every
    # command module, the options, the progress bar) loads none of these.
    import subprocess

    code = (
        "import sys, importlib; from retroprop.cli import COMMANDS\n"
        "for v in COMMANDS.values(): importlib.import_module(v.split(':')[0])\n"
        "heavy = ('numba', 'torch', 'sklearn', 'matplotlib', 'scipy', 'rich', 'openpyxl')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
