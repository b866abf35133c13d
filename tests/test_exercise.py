"""``retroprop exercise``: every answer key recomputed with PyTorch autograd from the
variant's given (rounded) numbers; variants differ and are reproducible; the key's
xlsx formulas recompute the key; the student's sheets have blanks."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from retroprop.cli import main
from retroprop.teach.exercise import Exercise, make_exercise, make_exercises
from retroprop.teach.sheets import SECTIONS, to_html, to_markdown

torch = pytest.importorskip("torch")


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def torch_key(ex: Exercise) -> dict[str, float]:
    """Every answer, recomputed in PyTorch float64 from the exercise's given numbers
    only (not from its network or trace)."""
    g = {q.key: q.value for q in ex.given}
    sizes = ex.sizes
    nl = len(sizes) - 1
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[
        ex.activation
    ]
    Ws, bs = [], []
    for n in range(1, nl + 1):
        W = [
            [g[f"fc{n}_w_{i}_{j}"] for j in range(sizes[n - 1])]
            for i in range(sizes[n])
        ]
        b = [g[f"fc{n}_b_{i}"] for i in range(sizes[n])]
        Ws.append(torch.tensor(W, dtype=torch.float64, requires_grad=True))
        bs.append(torch.tensor(b, dtype=torch.float64, requires_grad=True))
    x = torch.tensor([g[f"x_{j}"] for j in range(sizes[0])], dtype=torch.float64)
    r = int(g["r"])
    assert r == ex.r
    key: dict[str, float] = {}
    zs, outs = [], []
    a = x
    for n in range(1, nl + 1):
        z = Ws[n - 1] @ a + bs[n - 1]
        z.retain_grad()
        zs.append(z)
        if n < nl:
            a = act(z)
            a.retain_grad()
            outs.append(a)
        else:
            a = z
    p = torch.softmax(a, dim=0)
    loss = torch.nn.functional.cross_entropy(a.unsqueeze(0), torch.tensor([r]))
    loss.backward()
    key["L"] = loss.item()
    for i, v in enumerate(p.tolist()):
        key[f"p_{i}"] = v
    for n in range(1, nl + 1):
        z = zs[n - 1]
        for i in range(sizes[n]):
            key[f"z{n}_{i}"] = z[i].item()
            key[f"dz{n}_{i}"] = z.grad[i].item()
            key[f"gfc{n}_b_{i}"] = bs[n - 1].grad[i].item()
            key[f"newfc{n}_b_{i}"] = (bs[n - 1] - ex.lr * bs[n - 1].grad)[i].item()
            for j in range(sizes[n - 1]):
                key[f"gfc{n}_w_{i}_{j}"] = Ws[n - 1].grad[i, j].item()
                key[f"newfc{n}_w_{i}_{j}"] = (
                    Ws[n - 1][i, j] - ex.lr * Ws[n - 1].grad[i, j]
                ).item()
        if n < nl:
            out = outs[n - 1]
            for j in range(sizes[n]):
                key[f"out{n}_{j}"] = out[j].item()
                key[f"dout{n}_{j}"] = out.grad[j].item()
                # the chain-rule factor dout/dz: dL/dz divided by dL/dout
                zz = z[j].detach().clone().requires_grad_(True)
                (d,) = torch.autograd.grad(act(zz), zz)
                key[f"fp{n}_{j}"] = d.item()
    return key


def assert_key_matches_torch(ex: Exercise) -> None:
    want = torch_key(ex)
    got = {q.key: q.value for q in ex.answers}
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-14), k


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [((2, 2, 2), "sigmoid"), ((4, 4, 3, 3), "sigmoid"), ((3, 3, 2), "tanh")],
)
def test_the_key_is_pytorchs(sizes, activation):
    for ex in make_exercises(3, seed=11, sizes=sizes, activation=activation):
        assert_key_matches_torch(ex)


def test_given_numbers_are_short_and_the_key_uses_them():
    for decimals in (1, 2):
        ex = make_exercise(2, seed=5, decimals=decimals)
        for q in ex.given:
            if q.key not in ("r", "eta"):
                assert round(q.value, decimals) == q.value != 0
        # the network the key was computed with is exactly the given numbers
        for name, value in ex.net.state_dict().items():
            layer, kind = name.split(".")
            for idx in np.ndindex(*value.shape):
                k = f"{layer}_{kind[0]}_{'_'.join(map(str, idx))}"
                assert ex.quantity(k).value == value[idx]


XLSX_FUNCTIONS = {
    "EXP": math.exp,
    "LN": math.log,
    "TANH": math.tanh,
    "MAX": max,
    "IF": lambda c, a, b: a if c else b,
}


def evaluate_sheet(ws) -> dict[str, float]:
    """Recompute a workbook's formulas in Python (the key uses + - * / ^ and a few
    functions), in row order, as a spreadsheet would."""
    values: dict[str, float] = {}
    for row in ws.iter_rows(min_col=3, max_col=3):
        cell = row[0]
        v = cell.value
        if isinstance(v, str) and v.startswith("="):
            expr = re.sub(
                r"\bC(\d+)\b", lambda m: repr(values[f"C{m.group(1)}"]), v[1:]
            )
            expr = expr.replace("^", "**")
            values[cell.coordinate] = float(
                eval(expr, {"__builtins__": {}}, XLSX_FUNCTIONS)
            )
        elif isinstance(v, (int, float)):
            values[cell.coordinate] = float(v)
    return values


def test_cli_writes_30_versions_whose_keys_check(capsys, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    code, _, err = run(
        capsys, "exercise", "--variants", 30, "--seed", 7, "--output", tmp_path / "ex"
    )
    assert code == 0, err
    folder = tmp_path / "ex"
    for stem in ("exercicio", "gabarito"):
        for ext in ("md", "html", "xlsx"):
            assert len(list(folder.glob(f"{stem}-*.{ext}"))) == 30
    exercises = make_exercises(30, seed=7)
    # the variants differ
    givens = {tuple(q.value for q in ex.given) for ex in exercises}
    assert len(givens) == 30
    for ex in exercises:
        assert_key_matches_torch(ex)
        n = f"{ex.number:02d}"
        # the written key is this exercise's: the Markdown shows its numbers
        md = (folder / f"gabarito-{n}.md").read_text()
        assert md == to_markdown(ex, key=True, lang="pt")
        # the key's formulas recompute every answer
        ws = openpyxl.load_workbook(folder / f"gabarito-{n}.xlsx").active
        computed = evaluate_sheet(ws)
        formula_rows = [
            c.row
            for c in ws["C"]
            if isinstance(c.value, str) and c.value.startswith("=")
        ]
        in_sheet_order = [q for s in SECTIONS for q in ex.answers if q.section == s]
        assert len(formula_rows) == len(in_sheet_order) == len(ex.answers)
        for row, q in zip(formula_rows, in_sheet_order):
            assert ws.cell(row, 1).value == q.symbol
            assert computed[f"C{row}"] == pytest.approx(q.value, rel=1e-12, abs=1e-14)
        # the student's workbook: the given numbers, every answer cell empty
        ws = openpyxl.load_workbook(folder / f"exercicio-{n}.xlsx").active
        rows = [r for r in ws.iter_rows(values_only=True) if r and r[0] is not None]
        numbers = [r[2] for r in rows if len(r) > 2 and isinstance(r[2], (int, float))]
        assert len(numbers) == len(ex.given)
        assert not any(
            isinstance(r[2], str) and r[2].startswith("=") for r in rows if len(r) > 2
        )


def test_reproducible_from_the_seed_and_different_across_seeds(capsys, tmp_path):
    for name in ("a", "b"):
        code, _, err = run(
            capsys,
            "exercise",
            "--variants",
            2,
            "--seed",
            3,
            "--format",
            "md",
            "--format",
            "html",
            "--output",
            tmp_path / name,
        )
        assert code == 0, err
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()
    assert make_exercise(1, seed=3).values() != make_exercise(1, seed=4).values()


def test_student_sheets_have_blanks_keys_have_numbers_and_both_languages():
    ex = make_exercise(1, seed=0)
    sheet, key = to_markdown(ex, key=False), to_markdown(ex, key=True)
    assert "Exercício 1" in sheet and "Gabarito" in key and "retropropagação" in sheet
    assert "Fator de aprendizagem η = 0,5" in sheet
    L = ex.quantity("L").value
    assert f"{L:.4f}".replace(".", ",").rstrip("0") in key
    assert f"{L:.4f}".replace(".", ",").rstrip("0") not in sheet
    assert sheet.count("| \\_\\_\\_\\_\\_\\_\\_\\_ |") == len(ex.answers)
    en = to_markdown(ex, key=True, lang="en")
    assert "Answer key to exercise 1" in en and f"{L:.4f}".rstrip("0") in en
    assert "Learning rate η = 0.5" in en
    page = to_html(ex, key=False)
    assert '<html lang="pt-BR">' in page and "@media print" in page
    assert page.count('class="value blank"') == len(ex.answers)
    # the lecture's notation: out_j^(l), the Kronecker delta_ri, p_r
    assert "out_0^(1)" in sheet and "δ_r" in sheet and "-ln(p_r)" in sheet


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sizes", "2,x"], "comma-separated integers"),
        (["--sizes", "2,2,1"], "at least 2 classes"),
        (["--sizes", "2,20,2"], "at most 8"),
        (["--activation", "step"], "step"),
        (["--lang", "fr"], "fr"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, tmp_path, args, says):
    code, _, err = run(capsys, "exercise", "--output", tmp_path / "x", *args)
    assert code == 2 and says in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
