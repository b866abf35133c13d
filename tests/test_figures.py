"""Figures a teacher can put on a slide: PNG, PDF and SVG by the output's extension,
at the ``--dpi`` asked, read back as files of that format; anything else refused
before any work; without matplotlib, one line naming the extra, before training.

Without a path, a plot function returns the matplotlib Figure (a notebook shows it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from retroprop import plots
from retroprop.errors import ConfigError
from retroprop.experiments import activation_curves, descent_demo


def run(capsys, *args) -> tuple[int, str, str]:
    from retroprop.cli import main

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def one_line_error(code: int, err: str, *pieces: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for p in pieces:
        assert p in lines[0], lines[0]


def assert_png(path, width_in: float, height_in: float, dpi: int) -> None:
    """A PNG whose pixels are the figure's inches times ``dpi``, not blank."""
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.shape[:2] == (round(height_in * dpi), round(width_in * dpi))
    assert img[..., :3].var() > 0.001


def assert_pdf(path) -> None:
    """A PDF with one page (the figure) and an end-of-file marker."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-"), data[:20]
    assert b"%%EOF" in data[-64:]
    # '/Type /Page' but not '/Type /Pages' (the page tree)
    pages = re.findall(rb"/Type\s*/Page(?![s\w])", data)
    assert len(pages) == 1, pages


def assert_svg(path) -> ET.Element:
    """An SVG that parses as XML, with drawn paths inside."""
    data = path.read_bytes()
    assert data.lstrip().startswith((b"<?xml", b"<svg")), data[:40]
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10
    return root


# -- the library ----------------------------------------------------------------------


def test_plot_functions_return_the_figure_without_a_path(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    fig = plots.plot_activations(activation_curves(("sigmoid",)))
    assert isinstance(fig, Figure)
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert fig.get_size_inches().tolist() == list(plots.SIZES["activations"])
    assert fig._suptitle.get_text().startswith("Activation functions")
    fig = plots.plot_descent(descent_demo(lrs=(0.1,), starts=(0.0,)), dpi=72)
    assert isinstance(fig, Figure) and fig.dpi == 72
    # Jupyter shows it inline even without pyplot: a PNG at the figure's dpi
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "inline.png").write_bytes(png)
    assert_png(tmp_path / "inline.png", *plots.SIZES["descent"], dpi=72)


@pytest.mark.parametrize("ext", ["pdf", "svg", "png", "PDF"])
def test_the_extension_chooses_the_format(tmp_path, ext):
    path = tmp_path / f"act.{ext}"
    assert plots.plot_activations(activation_curves(), path, dpi=120) == str(path)
    kind = ext.lower()
    if kind == "pdf":
        assert_pdf(path)
    elif kind == "svg":
        assert_svg(path)
    else:
        assert_png(path, *plots.SIZES["activations"], dpi=120)


def test_pdf_and_svg_are_reproducible(tmp_path):
    # no creation date inside: the same figure gives the same bytes
    r = activation_curves(("sigmoid",))
    for ext in ("pdf", "svg"):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        plots.plot_activations(r, a)
        plots.plot_activations(r, b)
        assert a.read_bytes() == b.read_bytes(), ext


@pytest.mark.parametrize("name", ["act.jpg", "act", "act.png.txt", "act.eps"])
def test_other_extensions_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=r"\.png, \.pdf, \.svg"):
        plots.plot_activations(activation_curves(("sigmoid",)), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dpi", [0, 29, 1201, float("nan"), True, "150"])
def test_dpi_outside_the_range_is_refused(dpi):
    with pytest.raises(ConfigError, match="dpi must be a number from 30 to 1200"):
        plots.plot_activations(activation_curves(("sigmoid",)), dpi=dpi)


# -- the command line -------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["pdf", "svg"])
def test_plot_activations_writes_real_pdf_and_svg(tmp_path, capsys, ext):
    path = tmp_path / f"act.{ext}"
    code, out, err = run(capsys, "plot", "activations", "-o", path, "-q")
    assert code == 0, err
    assert f"Wrote {path}" in out
    (assert_pdf if ext == "pdf" else assert_svg)(path)


def test_dpi_sets_the_png_resolution(tmp_path, capsys):
    path = tmp_path / "act.png"
    code, _, err = run(
        capsys, "plot", "activations", "--functions", "sigmoid", "-o", path,
        "--dpi", "150", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert_png(path, *plots.SIZES["activations"], dpi=150)


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "activations"],
        ["plot", "descent"],
        ["plot", "boundary", "--epochs", "1"],
        ["sweep", "lr", "--values", "0.1", "--epochs", "1", "--seeds", "1"],
        ["seeds", "--n", "2", "--epochs", "1"],
        ["surface", "--epochs", "1"],
    ],
)
def test_every_plotting_command_refuses_a_bad_extension_before_work(
    tmp_path, capsys, args
):
    bad = tmp_path / "figure.jpg"
    js = tmp_path / "numbers.json"
    code, out, err = run(capsys, *args, "-o", bad, "--json", js, "-q")
    one_line_error(code, err, "figure.jpg", ".png, .pdf, .svg")
    assert out == ""
    assert not bad.exists() and not js.exists()  # nothing computed, nothing written


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "activations"],
        ["plot", "descent"],
        ["plot", "boundary"],
        ["sweep", "lr"],
        ["seeds"],
        ["surface"],
        ["train", "--plot", "h.png"],
    ],
)
@pytest.mark.parametrize("dpi", ["29", "5000", "x"])
def test_every_plotting_command_validates_dpi(tmp_path, capsys, args, dpi):
    code, _, err = run(capsys, *args, "--dpi", dpi, "-q")
    one_line_error(code, err, "--dpi", dpi)


def test_sweep_seeds_surface_write_pdf_svg(tmp_path, capsys):
    runs = {
        "sweep.pdf": [
            "sweep",
            "lr",
            "--values",
            "0.05",
            "--epochs",
            "2",
            "--seeds",
            "1",
        ],
        "seeds.svg": ["seeds", "--n", "2", "--epochs", "2"],
        "surface.pdf": ["surface", "--epochs", "2", "--resolution", "5"],
        "boundary.svg": ["plot", "boundary", "--epochs", "2", "--resolution", "20"],
        "descent.pdf": ["plot", "descent", "--function", "w**2", "--lr", "0.1"],
    }
    for name, args in runs.items():
        path = tmp_path / name
        code, _, err = run(capsys, *args, "-o", path, "-q", "--dpi", "80")
        assert code == 0, (name, err)
        (assert_pdf if name.endswith("pdf") else assert_svg)(path)


def test_train_plot_takes_the_format_and_dpi(tmp_path, capsys):
    svg, png = tmp_path / "h.svg", tmp_path / "h.png"
    code, _, err = run(capsys, "train", "--epochs", "2", "--plot", svg, "-q")
    assert code == 0, err
    assert_svg(svg)
    code, _, err = run(
        capsys, "train", "--epochs", "2", "--plot", png, "--dpi", "60", "-q"
    )
    assert code == 0, err
    assert_png(png, *plots.SIZES["history"], dpi=60)
    model = tmp_path / "m.safetensors"
    code, _, err = run(
        capsys, "train", "--plot", tmp_path / "h.gif", "--save", model, "-q"
    )
    one_line_error(code, err, "h.gif", ".png, .pdf, .svg")
    assert not model.exists()


def test_plot_descent_takes_the_curve_in_w_or_x(tmp_path, capsys):
    for expr in ("w**2 - w", "x**2 - x"):
        code, out, err = run(
            capsys, "plot", "descent", "--function", expr, "--lr", "0.1",
            "--start", "2", "-o", tmp_path / "d.png", "-q",
        )  # fmt: skip
        assert code == 0, err
        assert "L(w) = w**2 - w" in out
        # w <- w - 0.1 (2w - 1) converges to the minimum at w = 1/2
        assert "w = 0.5 (global)" in out
    code, _, err = run(
        capsys, "plot", "descent", "--function", "w**2 + x", "-o",
        tmp_path / "e.png", "-q",
    )  # fmt: skip
    one_line_error(code, err, "both w and x")
    assert not (tmp_path / "e.png").exists()


def test_descent_derivative_in_w_matches_central_differences():
    from retroprop.experiments.descent import parse_function

    f = parse_function("w**4 - 3*w**2 + sin(w)")
    w = np.linspace(-2, 2, 9)
    h = 1e-6
    fd = (f(w + h) - f(w - h)) / (2 * h)
    np.testing.assert_allclose(f.derivative(w), fd, rtol=1e-6, atol=1e-7)
    # f'(w) = 4w^3 - 6w + cos(w): at w = 1, 4 - 6 + cos(1)
    assert f.derivative(1.0) == pytest.approx(-2 + np.cos(1.0), abs=1e-12)


def test_boundary_of_a_saved_model_is_titled_once(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--epochs", "1", "--save", model, "-q")
    assert code == 0, err
    code, out, err = run(
        capsys, "plot", "boundary", "--model", model, "--resolution", "20",
        "-o", tmp_path / "b.png", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert "Decision regions of the model" in out
    assert "the the" not in out


# -- without matplotlib -------------------------------------------------------------------

NO_MATPLOTLIB = """
import sys

class NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoMatplotlib())
from retroprop.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "activations", "-o", "a.pdf"],
        ["plot", "boundary", "-o", "b.png"],
        ["sweep", "lr", "-o", "s.png"],
        ["seeds", "-o", "s.png"],
        ["surface", "-o", "s.png"],
        ["train", "--plot", "h.png", "--save", "m.safetensors"],
    ],
)
def test_missing_matplotlib_is_one_line_naming_the_extra_before_work(tmp_path, args):
    p = subprocess.run(
        [sys.executable, "-c", NO_MATPLOTLIB, *args, "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_line_error(p.returncode, p.stderr, "pip install 'retroprop[plots]'")
    assert p.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no model saved: refused before training


def test_without_matplotlib_training_without_plot_still_works(tmp_path):
    p = subprocess.run(
        [sys.executable, "-c", NO_MATPLOTLIB, "train", "--epochs", "1", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "accuracy" in p.stdout.lower()
