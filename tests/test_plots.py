"""The pictures: every figure and every command writes a valid, non-blank PNG of the
expected size, with its numbers as JSON when asked; bad input is one line, exit 2.

The commands run in-process through ``retroprop.cli.main`` (as the ``retroprop``
script does), with small epochs so the whole file stays fast.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import retroprop as rp
from retroprop import plots
from retroprop.experiments import activation_curves, decision_boundary, descent_demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, kind: str) -> np.ndarray:
    """A PNG of ``plots.SIZES[kind]`` at ``plots.DPI`` that is not blank."""
    from matplotlib.image import imread

    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    img = imread(path)
    w, h = plots.SIZES[kind]
    assert img.shape[:2] == (round(h * plots.DPI), round(w * plots.DPI))
    assert img[..., :3].var() > 0.001  # not one flat colour
    return img


def run(capsys, *args) -> tuple[int, str, str]:
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def assert_one_line_error(code: int, err: str, *pieces: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for p in pieces:
        assert p in lines[0], lines[0]


# -- the figure functions --------------------------------------------------------------------


def test_plot_functions_write_pngs_of_the_declared_size(tmp_path, iris_split):
    assert_png(
        plots.plot_activations(activation_curves(), tmp_path / "a.png"), "activations"
    )
    assert_png(plots.plot_descent(descent_demo(), tmp_path / "d.png"), "descent")
    net = rp.mlp([4, 4, 3, 3], seed=1)
    history = rp.train(net, iris_split.X_train, iris_split.y_train, epochs=5, lr=0.05)
    assert_png(plots.plot_history(history, tmp_path / "h.png"), "history")
    b = decision_boundary(net, iris_split.X_train, iris_split.y_train, resolution=40)
    assert_png(plots.plot_boundary(b, tmp_path / "b.png"), "boundary")
    # only the finished files are left: written through retroprop.atomic
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.png",
        "b.png",
        "d.png",
        "h.png",
    ]


def test_a_custom_size_is_honoured(tmp_path):
    from matplotlib.image import imread

    plots.plot_activations(
        activation_curves(("sigmoid",)), tmp_path / "s.png", size=(4, 3)
    )
    assert imread(tmp_path / "s.png").shape[:2] == (300, 400)


def test_matplotlib_is_not_imported_by_import_retroprop():
    import subprocess
    import sys

    code = (
        "import sys, retroprop, retroprop.experiments, retroprop.plots; "
        "print('matplotlib' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


# -- the commands ------------------------------------------------------------------------------


def test_plot_activations_command(tmp_path, capsys):
    png, js = tmp_path / "act.png", tmp_path / "act.json"
    code, out, err = run(
        capsys, "plot", "activations", "--range", "-5,5", "-o", png, "--json", js, "-q"
    )
    assert code == 0, err
    assert_png(png, "activations")
    data = json.loads(js.read_text())
    assert data["x"][0] == -5 and data["x"][-1] == 5
    assert set(data["derivatives"]["step"]) == {0.0}
    assert "step" in out and "jumps at 0" in out


def test_plot_descent_command(tmp_path, capsys):
    png, cs = tmp_path / "d.png", tmp_path / "d.csv"
    code, out, err = run(capsys, "plot", "descent", "-o", png, "--csv", cs, "-q")
    assert code == 0, err
    assert_png(png, "descent")
    assert "LOCAL minimum" in out and "global minimum" in out
    rows = list(csv.DictReader(cs.open()))
    assert {r["status"] for r in rows} >= {"converged", "not converged"}
    code, out, err = run(
        capsys,
        "plot",
        "descent",
        "--function",
        "(x - 1)**2 + sin(3*x)",
        "--lr",
        "0.1",
        "--start",
        "0",
        "-o",
        tmp_path / "u.png",
        "-q",
    )
    assert code == 0, err
    assert "L(w) = (w - 1)**2 + sin(3*w)" in out  # the axes' variable, w


def test_descent_title_writes_the_curve_in_w(tmp_path, monkeypatch):
    from retroprop.experiments.descent import in_w

    assert in_w("x**4 - 3*x**2 + x") == "w**4 - 3*w**2 + w"
    assert in_w("exp(-x) + 0x1f*x") == "exp(-w) + 0x1f*w"
    titles = []
    real = plots._save

    def spy(fig, path):
        titles.append(fig._suptitle.get_text())
        return real(fig, path)

    monkeypatch.setattr(plots, "_save", spy)
    plots.plot_descent(
        descent_demo("exp(x) - 2*x", lrs=(0.1,), starts=(0.0,)), tmp_path / "d.png"
    )
    assert titles[0].endswith(" on L(w) = exp(w) - 2*w, 40 steps"), titles[0]


@pytest.mark.parametrize("expr", ["log(x)", "sqrt(x)", "x**x"])
def test_plot_descent_of_a_function_undefined_at_a_start(tmp_path, capsys, expr):
    # f is NaN at w0 = -2: those runs diverge before their first step.
    code, out, err = run(
        capsys, "plot", "descent", "--function", expr, "-o", tmp_path / "d.png", "-q"
    )
    assert code == 0, err
    assert_png(tmp_path / "d.png", "descent")
    assert out.count("diverged at the start (f undefined at w0)") == 3
    assert "(global)" not in out or expr == "x**x"  # log's pole is no minimum


def test_plot_descent_of_an_overflowing_constant_is_one_line(tmp_path, capsys):
    code, _out, err = run(
        capsys,
        "plot",
        "descent",
        "--function",
        "9**9**9**9",
        "-o",
        tmp_path / "d.png",
        "-q",
    )
    assert_one_line_error(code, err, "9**9**9**9", "overflows")
    assert not (tmp_path / "d.png").exists()


@pytest.mark.parametrize(
    ("expr", "piece"),
    [
        ("__import__('os')", "__import__"),
        ("x.real", "attribute"),
        ("system(x)", "'system'"),
    ],
)
def test_plot_descent_refuses_unsafe_functions(tmp_path, capsys, expr, piece):
    code, _out, err = run(
        capsys, "plot", "descent", "--function", expr, "-o", tmp_path / "d.png", "-q"
    )
    assert_one_line_error(code, err, piece)
    assert not (tmp_path / "d.png").exists()


def test_plot_boundary_command(tmp_path, capsys):
    png, js = tmp_path / "b.png", tmp_path / "b.json"
    code, out, err = run(
        capsys,
        "plot",
        "boundary",
        "--epochs",
        "5",
        "--resolution",
        "50",
        "-o",
        png,
        "--json",
        js,
        "-q",
    )
    assert code == 0, err
    assert_png(png, "boundary")
    data = json.loads(js.read_text())
    assert "accuracy on the points drawn" not in out
    assert f"network accuracy (all features): {data['accuracy']:.4f}" in out
    assert (
        f"points in their own region on this slice: {data['slice_accuracy']:.4f}"
    ) in out
    assert data["feature_names"] == ["petal_length", "petal_width"]
    assert np.array(data["predictions"]).shape == (50, 50)


def test_plot_boundary_moves_its_progress_with_the_epoch_progress_callback(
    tmp_path, capsys, monkeypatch
):
    from retroprop.cli.progress import EpochProgress

    seen = []
    real = EpochProgress.on_epoch_end

    def spy(self, state):
        seen.append(state.epoch)
        real(self, state)

    monkeypatch.setattr(EpochProgress, "on_epoch_end", spy)
    code, _out, err = run(
        capsys,
        "plot",
        "boundary",
        "--epochs",
        "3",
        "--resolution",
        "10",
        "-o",
        tmp_path / "b.png",
    )
    assert code == 0, err
    assert seen == [1, 2, 3]


def test_plot_boundary_of_a_saved_model(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--epochs", "5", "--save", model, "-q")
    assert code == 0, err
    code, out, err = run(
        capsys,
        "plot",
        "boundary",
        "--model",
        model,
        "--features",
        "sepal_length,1",
        "--resolution",
        "30",
        "-o",
        tmp_path / "b.png",
        "-q",
    )
    assert code == 0, err
    assert "sepal_length (x) and sepal_width (y)" in out
    code, out, err = run(
        capsys,
        "plot",
        "boundary",
        "--model",
        model,
        "--features",
        "sepal_length,nope",
        "-o",
        tmp_path / "c.png",
    )
    assert_one_line_error(code, err, "nope")


def test_train_plot_option(tmp_path, capsys):
    png = tmp_path / "t.png"
    code, out, err = run(capsys, "train", "--epochs", "4", "--plot", png, "-q")
    assert code == 0, err
    img = assert_png(png, "history")
    assert img.shape[2] in (3, 4)
    assert str(png) in out
    # drawing the held-out curves measures only: the trained network is the same
    _, plain, _ = run(capsys, "train", "--epochs", "4", "--json")
    _, drawn, _ = run(capsys, "train", "--epochs", "4", "--json", "--plot", png)
    assert json.loads(plain) == json.loads(drawn)


def test_sweep_lr_command_flags_divergence(tmp_path, capsys):
    png, js = tmp_path / "s.png", tmp_path / "s.json"
    code, out, err = run(
        capsys,
        "sweep",
        "lr",
        "--values",
        "0.05,10",
        "--seeds",
        "2",
        "--epochs",
        "10",
        "-o",
        png,
        "--json",
        js,
        "-q",
    )
    assert code == 0, err
    assert_png(png, "sweep")
    data = json.loads(js.read_text())
    assert data["lrs"] == [0.05, 10.0]
    assert data["diverged"] == [[False, False], [True, True]]
    assert "diverged (growing)" in out


def test_seeds_command(tmp_path, capsys):
    png, js = tmp_path / "seeds.png", tmp_path / "seeds.json"
    code, out, err = run(
        capsys, "seeds", "--n", "6", "--epochs", "5", "-o", png, "--json", js, "-q"
    )
    assert code == 0, err
    assert_png(png, "seeds")
    data = json.loads(js.read_text())
    assert len(data["seeds"]) == 6 and data["seeds"][0] == 1
    assert f"{data['n_minima']} distinct minima among 6 runs" in " ".join(out.split())
    assert f"{data['n_worse']} of 6 runs ended clearly worse" in " ".join(out.split())


def test_surface_command(tmp_path, capsys):
    png, js = tmp_path / "surf.png", tmp_path / "surf.json"
    code, out, err = run(
        capsys,
        "surface",
        "--epochs",
        "5",
        "--resolution",
        "7",
        "--points",
        "9",
        "-o",
        png,
        "--json",
        js,
        "-q",
    )
    assert code == 0, err
    assert_png(png, "surface")
    data = json.loads(js.read_text())
    assert len(data["line"]["alpha"]) == 9
    assert np.array(data["plane"]["loss"]).shape == (7, 7)
    assert "barrier" in out


def test_every_experiment_runs_on_a_users_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "blobs.csv"
    with path.open("w") as f:
        f.write("a,label,b,c\n")
        for i in range(60):
            k = i % 2
            a, b, c = rng.normal(2.0 * k, 1.0, 3)
            f.write(f"{a},{'yes' if k else 'no'},{b},{c}\n")
    common = [
        "--data",
        path,
        "--target",
        "label",
        "--hidden",
        "3",
        "--epochs",
        "3",
        "-q",
    ]
    for args, kind in (
        (["seeds", "--n", "3"], "seeds"),
        (["sweep", "lr", "--values", "0.1,1", "--seeds", "2"], "sweep"),
        (["surface", "--resolution", "3", "--points", "3"], "surface"),
        (["plot", "boundary", "--resolution", "20"], "boundary"),
    ):
        png = tmp_path / f"{kind}.png"
        code, out, err = run(capsys, *args, *common, "-o", png)
        assert code == 0, (args, err)
        assert_png(png, kind)
        if kind != "boundary":
            assert "3-3-2 sigmoid network on" in out and "blobs.csv" in out


def test_commands_refuse_bad_options(tmp_path, capsys):
    code, _, err = run(
        capsys, "sweep", "lr", "--values", "0.1,-1", "-o", tmp_path / "x.png"
    )
    assert_one_line_error(code, err, "--values")
    code, _, err = run(
        capsys, "plot", "activations", "--range", "3,1", "-o", tmp_path / "x.png"
    )
    assert_one_line_error(code, err, "LOW < HIGH")
    code, _, err = run(
        capsys,
        "seeds",
        "--n",
        "3",
        "--activation",
        "step",
        "-o",
        tmp_path / "x.png",
        "-q",
    )
    assert_one_line_error(code, err, "step")
    code, _, err = run(capsys, "surface", "--seeds", "1,1", "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "--seeds")
    assert not (tmp_path / "x.png").exists()
