"""The Portuguese of the pieces the guard (test_i18n_everywhere.py) only sees from
outside: explain's layer labels and step context, verify's report, the divergence
message, click's own words, the exercise's sheets (both languages from the one
catalogue) and the explain --format help kept in step with its formats."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import i18n

babel = pytest.importorskip("babel")


@pytest.fixture(autouse=True)
def _back_to_the_environment():
    yield
    i18n.set_language(None)


def test_layer_labels_and_the_step_context_in_both_languages():
    from retroprop.explain.data import layer_label, step_context

    meta = {"step": 1, "sample": 86, "epoch": 1}
    trained = {**meta, "weights": {"file": "m.safetensors", "epochs": 100}}
    i18n.set_language("en")
    assert layer_label("fc1", 1, False) == "fc1 (hidden layer 1)"
    assert layer_label("fc3", 3, True) == "fc3 (output layer)"
    assert step_context(meta) == "step 1, sample 86, epoch 1"
    assert step_context(trained) == (
        "weights from m.safetensors (trained for 100 epochs); the step explained is "
        "update 1 of training continued from them (sample 86)"
    )
    i18n.set_language("pt")
    assert layer_label("fc1", 1, False) == "fc1 (camada oculta 1)"
    assert layer_label("fc3", 3, True) == "fc3 (camada de saída)"
    assert step_context(meta) == "passo 1, instância 86, época 1"
    assert step_context(trained).startswith(
        "pesos de m.safetensors (treinados por 100 épocas); o passo explicado é a "
        "atualização 1"
    )


def test_explain_speaks_portuguese_in_every_view(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    net = rp.mlp([2, 2, 2], "sigmoid", seed=0, names=["fc1", "fc2"])
    meta = {"step": 3, "sample": 7, "epoch": 1}
    trace = rp.explain_step(net, np.array([0.5, -1.0]), 1, lr=0.1, meta=meta)
    i18n.set_language("pt")
    text = trace.to_text(width=200)
    assert "(passo 3, instância 7, época 1)" in text
    assert "fc1 (camada oculta 1), forward propagation" in text
    assert "fc2 (camada de saída), retropropagação: biases fc2.bias" in text
    assert "dL/db_i = produto" in text and "classe predita" in text
    md = trace.to_markdown()
    assert "Passo 3, instância 7, época 1." in md
    assert "## fc1 (camada oculta 1), forward propagation" in md
    assert "camada oculta" in trace._repr_html_()
    assert trace.to_dict()["layers"][0]["label"] == "fc1 (camada oculta 1)"
    trace.to_xlsx(tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["passo"]
    labels = [c.value for c in sheet["A"] if isinstance(c.value, str)]
    assert "entrada x" in labels and "classe verdadeira r" in labels
    assert any(v.startswith("fc1 (camada oculta 1): z_i") for v in labels)
    i18n.set_language("en")  # the English as it was
    text = trace.to_text(width=200)
    assert "(step 3, sample 7, epoch 1)" in text
    assert "fc1 (hidden layer 1)" in text and "dL/db_i = product" in text


def test_the_step_function_stops_in_portuguese():
    net = rp.mlp([2, 2, 2], "step", seed=0, names=["fc1", "fc2"])
    trace = rp.explain_step(net, np.array([0.5, -1.0]), 1, lr=0.1, stop=True)
    i18n.set_language("pt")
    text = trace.to_text(width=200)
    assert "A retropropagação para em" in text
    assert "a Função Degrau não pode ser treinada pela retropropagação" in text


def test_the_divergence_message_in_portuguese():
    from retroprop.errors import DivergenceError
    from retroprop.training.divergence import describe

    i18n.set_language("pt")
    what = describe("growing", 1.125, 20850.5, 1.0986)
    assert what == (
        "a loss terminou em 20850,5, 18533,8 vezes onde começou (1,125) e acima do "
        "acaso (1,0986, a loss de predizer as frequências das classes)"
    )
    e = DivergenceError.at(3, 360, 10000.0, what)
    assert str(e).startswith(
        "o treinamento divergiu na época 3, iteração 360 com fator de aprendizagem "
        "η = 10000: a loss terminou em"
    )
    assert str(e).endswith(
        "Tente um fator de aprendizagem η menor, por exemplo lr=1000"
    )
    assert describe("non-finite", 1.0, math.inf, 1.0) == "a loss virou inf"
    i18n.set_language("en")
    assert describe("non-finite", 1.0, math.inf, 1.0) == "the loss became inf"


def test_verify_reports_in_portuguese():
    from rich.console import Console

    from retroprop.cli.verify import render
    from retroprop.interop.verify import Comparison, VerifyResult

    ok = Comparison("loss", "loss", 5, 2.2e-16, 1.0, 1.5e-16, 1e-10, True)
    bad = Comparison("gradient", "fc1.weight", 80, 3e-3, 1.0, 1e-2, 1e-10, False)
    result = VerifyResult(
        torch_version="2.13.0",
        steps=5,
        lr=0.05,
        batch_size=1,
        momentum=0.0,
        nesterov=False,
        weight_decay=0.0,
        dtype="float64",
        tolerance=1e-10,
        comparisons=[ok, bad],
        architecture=[],
    )
    i18n.set_language("pt")
    out = io.StringIO()
    render(result, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "5 passos de SGD, fator de aprendizagem η = 0,05, tamanho do lote 1" in text
    assert "Loss, a cada passo" in text and "Gradientes, a cada passo" in text
    assert "PASSOU" in text and "FALHOU" in text
    assert "2,200e-16" in text  # the decimal comma
    assert "1 de 2 grandezas difere por mais de 1e-10:" in text
    assert "gradiente fc1.weight: máx. dif. absoluta 3,000e-03" in text


def test_click_speaks_portuguese_with_lang_pt():
    from click.testing import CliRunner

    from retroprop.cli import cli

    runner = CliRunner()
    r = runner.invoke(cli, ["--lang", "pt", "train", "--help"], prog_name="retroprop")
    assert r.exit_code == 0
    assert r.output.startswith("Uso: retroprop train [OPÇÕES]")
    assert "Opções:" in r.output and "Mostra esta mensagem e sai." in r.output
    assert "--epochs INTEIRO" in r.output and "--lr NÚMERO" in r.output
    r = runner.invoke(
        cli, ["--lang", "pt", "train", "--epoch", "3"], prog_name="retroprop"
    )
    assert r.exit_code == 2
    assert "Não existe a opção '--epoch'." in r.output
    r = runner.invoke(cli, ["--lang", "en", "train", "--help"], prog_name="retroprop")
    assert r.output.startswith("Usage: retroprop train [OPTIONS]")
    assert "--epochs INTEGER" in r.output and "Show this message and exit." in r.output


def test_every_click_text_retroprop_translates_is_one_click_writes():
    """A click upgrade that rewords a text would leave its translation unused: the
    table must hold click's texts exactly as click's source marks them."""
    import click
    from babel.messages.extract import extract_from_dir

    from retroprop.cli.clickwords import CLICK_MESSAGES, CLICK_PLURALS, TYPE_NAMES

    marked = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        Path(click.__file__).parent,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        marked.add(message)
    singular = {m for m in marked if isinstance(m, str)}
    assert set(CLICK_MESSAGES) - {"[OPTIONS]", "COMMAND [ARGS]..."} <= singular
    plurals = {m for m in marked if isinstance(m, tuple)}
    assert set(CLICK_PLURALS) <= {m[0] for m in plurals}
    import click.types

    for cls_name, text in TYPE_NAMES.items():
        cls = getattr(click.types, cls_name)
        i18n.set_language("en")
        assert cls.name == text  # as click writes it, in English


def test_the_exercise_sheets_take_both_languages_from_the_catalogue():
    from retroprop.teach.sheets import WORDS, _words

    i18n.set_language("en")  # the messages' language does not decide the sheets'
    pt, en = _words("pt"), _words("en")
    assert set(pt) == set(en) == set(WORDS)
    assert en == WORDS  # English: the templates themselves
    assert pt["title"] == "Exercício {number}: um passo de retropropagação"
    assert pt["hidden"] == "camada oculta {number}"
    assert pt["network"].endswith("Fator de aprendizagem η = {lr}.")
    assert all(pt[k] != en[k] for k in ("title", "given", "backward", "update"))
    i18n.set_language("pt")
    assert _words("en")["given"] == "Given"


def test_the_explain_format_help_lists_every_format():
    from retroprop.cli.explain import FORMATS, FORMATS_HELP

    assert "; ".join(f"{k}: {v}" for k, v in FORMATS.items()) + "." == FORMATS_HELP


def test_notebook_displays_in_portuguese():
    """What a Jupyter cell shows: the network, the model, the history and an
    experiment's tables, in the language in use."""
    from retroprop.experiments import descent_demo

    net = rp.mlp([2, 3, 2], "sigmoid", seed=0, names=["fc1", "fc2"])
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    st = rp.datasets.Standardizer().fit(X)
    model = rp.Model(net, ["a", "b"], ["u", "v"], st)
    history = rp.train(net, X, y, epochs=2, lr=0.1, seed=0)
    demo = descent_demo("w**2", lrs=(0.1,), starts=(1.0,), steps=5)
    i18n.set_language("pt")
    assert "Sequential: 17 parâmetros, float64 (entrada (n, 2))" in net._repr_html_()
    page = model._repr_html_()
    assert "2 características, padronizadas: (x - média) / escala" in page
    assert "2 classes" in page and "média (subtraída)" in page
    assert "Histórico: 2 épocas, 8 atualizações" in history._repr_html_()
    page = demo._repr_html_()
    assert "Descida de Gradiente em L(w) = w**2, 5 passos" in page
    assert "Mínimos de L(w) no intervalo" in page and "outcome" not in page
    assert "não convergiu: ainda se move após 5 passos" in page
    i18n.set_language("en")
    assert "Sequential: 17 parameters, float64 (input (n, 2))" in net._repr_html_()
    assert "History: 2 epochs, 8 updates" in history._repr_html_()
    assert "Gradient descent on L(w) = w**2, 5 steps" in demo._repr_html_()
