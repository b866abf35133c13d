"""The example notebook runs from start to end, and shows what it promises.

``examples/aula_retropropagacao.ipynb`` is executed in a real Jupyter kernel (nbclient,
ipykernel); any error in any cell fails the test. Its outputs are then checked: the
objects display as HTML, the figures appear inline, ``x = trace.to_text()`` prints
nothing by itself, and exercise 4's hand update matched retroprop's number.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOK = (
    Path(__file__).resolve().parent.parent / "examples" / "aula_retropropagacao.ipynb"
)
SRC = Path(__file__).resolve().parent.parent / "src"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel imports this tree's retroprop, as the tests do
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}},
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", path)
        client.execute()  # raises CellExecutionError on the first failing cell
    return nb


def outputs_of(nb, piece: str) -> list[dict]:
    """The outputs of the one code cell whose source contains ``piece``."""
    found = [c for c in nb.cells if c.cell_type == "code" and piece in c.source]
    assert len(found) == 1, piece
    return found[0].outputs


def html_of(outputs) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


@pytest.mark.slow
def test_the_notebook_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in errors if o.output_type == "error"]
    # written in Portuguese, attributing the lecture
    text = " ".join(c.source for c in executed.cells if c.cell_type == "markdown")
    for words in (
        "Paulo Ricardo Lisboa de Almeida",
        "CC BY 4.0",
        "fator de aprendizagem",
    ):
        assert words in text


@pytest.mark.slow
def test_objects_display_as_html_and_figures_inline(executed):
    # the notebook speaks Portuguese (set_language("pt") in its first cell)
    net = html_of(outputs_of(executed, "rede = rp.mlp"))
    assert "Sequential: 47 parâmetros" in net and "fc1.weight" in net
    step = html_of(outputs_of(executed, "passo = rp.explain_step"))
    assert "Um passo de SGD" in step and "dL/dp_r = -1/p_r" in step
    assert "fc3 (camada de saída)" in step and "fc3.bias" in step
    assert "Histórico: 30 épocas" in html_of(outputs_of(executed, "epochs=30"))
    sweep = html_of(outputs_of(executed, "varredura = lr_sweep"))
    assert "veredicto" in sweep and "divergiu" in sweep
    seeds = html_of(outputs_of(executed, "estudo = seed_study"))
    assert "O mínimo global é garantido?" in seeds
    for piece in (
        "historico.plot(",
        "plot_sweep(",
        "plot_descent(",
        '("sigmoid",), (-10',
    ):
        outs = outputs_of(executed, piece)
        assert any("image/png" in o.get("data", {}) for o in outs), piece


@pytest.mark.slow
def test_to_text_alone_prints_nothing_and_exercise_4_matches(executed):
    outs = outputs_of(executed, "texto = passo.to_text()")
    # only the three printed lines of the loop: no table displayed by rich
    assert [o.output_type for o in outs] == ["stream"]
    assert outs[0].text.count("dL/db_i") == 3
    hand = "".join(o.text for o in outputs_of(executed, "b_mao = ") if "text" in o)
    rows = [line.split() for line in hand.splitlines()[2:]]
    assert len(rows) == 3
    for row in rows:
        assert row[3] == row[4]  # by hand == retroprop, to 8 decimals
        assert float(row[5]) <= 1e-12
    answer = "".join(o.text for o in outputs_of(executed, "global_minimum.answer"))
    assert answer.strip().endswith("not guaranteed")


LECTURE_CELL = """
import torch
from torch import nn


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 3)
        self.fc3 = nn.Linear(3, 3)

    def forward(self, x):
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)
"""


def test_the_lecture_class_from_a_notebook_cell_goes_through_explain_and_verify(
    iris_split,
):
    # as in docs/notebooks.md: the class lives in a cell (the notebook's __main__),
    # not in an importable file; from_torch takes the object.
    torch = pytest.importorskip("torch")
    import retroprop as rp
    from retroprop.interop.verify import verify
    from retroprop.torch import from_torch

    cell: dict = {"__name__": "__main__"}
    exec(compile(LECTURE_CELL, "<notebook cell>", "exec"), cell)
    torch.manual_seed(1)
    module = cell["NeuralNetwork"]().double()
    net = from_torch(module)
    x, r = iris_split.X_train[0], int(iris_split.y_train[0])
    trace = rp.explain_step(net, x, r, lr=0.05)
    # the same gradient by PyTorch's autograd; the trace keeps the class's names
    loss = torch.nn.functional.cross_entropy(
        module(torch.tensor(x[None, :])), torch.tensor([r])
    )
    loss.backward()
    np.testing.assert_allclose(
        trace.grads()["fc3.bias"], module.fc3.bias.grad.numpy(), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        trace.grads()["fc1.weight"],
        module.fc1.weight.grad.numpy(),
        rtol=1e-12,
        atol=1e-15,
    )
    result = verify(net, iris_split.X_train, iris_split.y_train, steps=5)
    assert result.passed
