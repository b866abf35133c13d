"""Portuguese and English (retroprop.i18n, the gettext catalogue, the CLI's --lang).

The catalogue tests extract the messages from the source with Babel's own API, as
``make catalogues`` does, so a new user-visible message without a Portuguese
translation fails here (and in CI) rather than showing English to a Brazilian student.
The accuracy is "acurácia": the lecture's glossary has no entry for it, and it is the
common Brazilian word.
"""

from __future__ import annotations

import gettext
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import i18n
from retroprop.display import fmt

babel = pytest.importorskip("babel")
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "retroprop" / "locale"
PO = LOCALE / "pt" / "LC_MESSAGES" / "retroprop.po"
MO = LOCALE / "pt" / "LC_MESSAGES" / "retroprop.mo"


@pytest.fixture(autouse=True)
def _back_to_the_environment():
    yield
    i18n.set_language(None)  # the suite's RETROPROP_LANG=en (conftest.py)


def extracted() -> Catalog:
    """The messages of the source, extracted as babel.cfg says (in memory)."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (1, 2)}
    catalog = Catalog()
    for _file, lineno, message, _comments, _context in extract_from_dir(
        ROOT,
        method_map=[("src/retroprop/**.py", "retroprop.i18n:extract")],
        keywords=keywords,
    ):
        catalog.add(message, None, [(_file, lineno)])
    return catalog


def portuguese() -> Catalog:
    with open(PO, "rb") as f:
        return read_po(f)


def test_extraction_finds_marked_messages_help_and_docstrings():
    ids = {m.id for m in extracted() if m.id}
    assert "Confusion matrix (test)" in ids  # _()
    assert "Result" in ids  # N_()
    assert "Learning rate (the lecture's eta), a positive number." in ids  # help=
    assert any(isinstance(i, str) and i.startswith("Train a network;") for i in ids)
    assert any(isinstance(i, tuple) for i in ids)  # ngettext


def test_every_message_has_a_portuguese_translation():
    pt = portuguese()
    missing = []
    for m in extracted():
        if not m.id:
            continue
        t = pt.get(m.id)
        strings = t.string if t is not None and isinstance(t.id, tuple) else None
        if t is None or t.fuzzy:
            missing.append(m.id)
        elif isinstance(m.id, tuple):
            if not strings or not all(strings):
                missing.append(m.id)
        elif not t.string:
            missing.append(m.id)
    assert missing == [], "run `make catalogues` and translate these in " + str(PO)


def test_translations_keep_every_placeholder():
    """A translation that drops or renames ``{name}`` would raise KeyError (or lose
    the number) only when the message is shown."""
    bad = []
    for m in portuguese():
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        # the singular's translation keeps the singular's placeholders, the plural
        # forms the plural's (click's "Did you mean {possibility}?" has a plural
        # with {possibilities})
        for k, s in enumerate(strings):
            want = set(re.findall(r"\{[^{}]*\}", ids[min(k, len(ids) - 1)]))
            if set(re.findall(r"\{[^{}]*\}", s)) != want:
                bad.append((ids[0], s))
    assert bad == []


def test_the_compiled_catalogue_matches_its_source():
    with open(MO, "rb") as f:
        mo = gettext.GNUTranslations(f)
    pt = portuguese()
    n = 0
    for m in pt:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, tuple):
            for k, s in enumerate(m.string):
                assert mo.ngettext(m.id[0], m.id[1], 1 if k == 0 else 2) == s
        else:
            assert mo.gettext(m.id) == m.string, m.id
        n += 1
    # and nothing in the .mo that the .po lost (the header is the empty msgid)
    assert len(mo._catalog) - 1 >= n  # type: ignore[attr-defined]
    msgids = {k if isinstance(k, str) else k[0] for k in mo._catalog}  # type: ignore[attr-defined]
    po_ids = {(m.id if isinstance(m.id, str) else m.id[0]) for m in pt if m.id}
    assert msgids - {""} == po_ids


def test_the_lecture_words():
    pt = portuguese()
    assert pt.get("Learning rate (the lecture's eta), a positive number.").string == (
        "Fator de aprendizagem η da aula (taxa de aprendizado), um número positivo."
    )
    assert pt.get("biases").string == "biases"  # not "viés" (GLOSSARY.md)
    assert pt.get("weights").string == "pesos"
    assert pt.get("epoch").string == "época"
    assert pt.get("global minimum").string == "mínimo global"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "pt_BR.UTF-8"}, "pt"),
        ({"LANG": "pt_PT"}, "pt"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "pt_BR.UTF-8"}, "en"),  # LC_ALL wins
        ({"LC_MESSAGES": "pt_BR.UTF-8", "LANG": "en_US"}, "pt"),
        ({"RETROPROP_LANG": "en", "LANG": "pt_BR.UTF-8"}, "en"),
        ({"RETROPROP_LANG": "pt", "LC_ALL": "C"}, "pt"),
    ],
)
def test_the_language_comes_from_the_environment(env, expected):
    assert i18n.detect_language(env) == expected


def test_set_language_wins_and_refuses_unknown_languages():
    i18n.set_language("pt_BR")
    assert i18n.language() == "pt"
    assert i18n._("Confusion matrix (test)") == "Matriz de confusão (teste)"
    assert i18n.ngettext("{n} run", "{n} runs", 2) == "{n} runs"  # not in catalogue
    i18n.set_language("en")
    assert i18n._("Confusion matrix (test)") == "Confusion matrix (test)"
    with pytest.raises(ValueError, match="choose one of en, pt"):
        i18n.set_language("fr")


def test_numbers_for_people_take_the_decimal_comma_in_portuguese():
    i18n.set_language("pt")
    assert fmt(0.96667, decimals=4) == "0,9667"
    assert fmt(-0.531632) == "-0,531632"
    assert fmt(1e302) == "1e+302"
    assert fmt(1.5e-7) == "1,5e-07"
    assert fmt(3) == "3"
    st = rp.datasets.Standardizer().fit(np.array([[0.0, 1.0], [1.0, 2.0]]))
    assert "mean=[0,5; 1,5]" in repr(st)  # "; " between numbers with commas
    i18n.set_language("en")
    assert "mean=[0.5, 1.5]" in repr(st)
    assert fmt(0.96667, decimals=4) == "0.9667"


def run(args, env_extra, cwd):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RETROPROP_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


TRAIN = ["train", "--epochs", "2", "--quiet"]


def test_train_speaks_portuguese_under_a_brazilian_locale(tmp_path):
    r = run(TRAIN, {"LANG": "pt_BR.UTF-8"}, tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Treinou uma rede 4-4-3-3" in out
    assert "fator de aprendizagem η = 0,05" in out
    assert "acurácia" in out and "Matriz de confusão (teste)" in out
    assert "treinamento" in out and "épocas" in out
    # the accuracy and the loss with the decimal comma, no decimal point left
    assert re.search(r"│\s+0,\d{4} │", out)
    assert not re.search(r"\d\.\d", out)


def test_retroprop_lang_and_lang_en(tmp_path):
    r = run(TRAIN, {"RETROPROP_LANG": "pt"}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "acurácia" in r.stdout
    r = run(["--lang", "en", *TRAIN], {"LANG": "pt_BR.UTF-8"}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "accuracy" in r.stdout and "acurácia" not in r.stdout
    assert re.search(r"│\s+0\.\d{4} │", r.stdout)
    r = run(["--lang", "pt", *TRAIN], {"RETROPROP_LANG": "en"}, tmp_path)
    assert "acurácia" in r.stdout
    r = run([*TRAIN, "--lang", "pt"], {"RETROPROP_LANG": "en"}, tmp_path)
    assert "acurácia" in r.stdout  # per command too
    r = run(["train", "--lang", "pt", "--help"], {}, tmp_path)
    assert "Treina uma rede" in r.stdout


def test_json_keeps_english_keys_and_decimal_points(tmp_path):
    r = run([*TRAIN, "--json"], {"LANG": "pt_BR.UTF-8"}, tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)  # dots: a comma would not even parse as numbers
    assert isinstance(result["test"]["accuracy"], float)
    assert result["lr"] == 0.05


def test_a_bad_csv_is_reported_in_portuguese(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,c\n1,x,0\n1,2,1\n")
    r = run(["train", "--data", "bad.csv"], {"LANG": "pt_BR.UTF-8"}, tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "retroprop: erro: bad.csv, linha 2, coluna 'b': 'x' não é um número; se 'b' "
        "é a coluna de classe, escolha-a com --target b, ou deixe-a de fora com --drop b"
    )
    r = run(["--lang", "en", "train", "--data", "no.csv"], {"LANG": "pt_BR"}, tmp_path)
    assert r.stderr.strip() == "retroprop: error: no.csv: no such file"


def test_help_in_portuguese(tmp_path):
    r = run(["train", "--help"], {"LANG": "pt_BR.UTF-8"}, tmp_path)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())  # click wraps the help
    assert "Treina uma rede" in out
    assert "Fator de aprendizagem η da aula (taxa de aprendizado)" in out
    r = run(["--lang", "pt", "--help"], {}, tmp_path)
    assert "Treina, explica e verifica" in r.stdout


def test_explain_in_portuguese(tmp_path):
    r = run(["explain"], {"LANG": "pt_BR.UTF-8", "COLUMNS": "200"}, tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Um passo de SGD: loss cross_entropy, η = 0,05, 1 instância" in out
    assert "Entrada" in out and "característica" in out
    assert "forward propagation" in out and "retropropagação: biases" in out
    assert "retropropagação: pesos" in out
    assert "Softmax e Cross Entropy Loss" in out


def test_seeds_answers_in_portuguese_json_in_english(tmp_path):
    args = ["seeds", "--n", "3", "--epochs", "2", "--quiet", "-o", "s.png"]
    r = run(args, {"LANG": "pt_BR.UTF-8"}, tmp_path)
    if "matplotlib" in r.stderr:
        pytest.skip("needs the plotting extra")
    assert r.returncode == 0, r.stderr
    assert "O mínimo global é garantido? não é garantido" in r.stdout
    assert "Dispersão entre as execuções" in r.stdout
    assert "execuções terminaram claramente piores" in r.stdout
    r = run([*args, "--json", "-"], {"LANG": "pt_BR.UTF-8"}, tmp_path)
    answers = json.loads(r.stdout)["answers"]
    assert answers["global_minimum"]["answer"] == "not guaranteed"
    assert "runs ended clearly worse" in answers["global_minimum"]["because"]


def test_a_message_is_english_text_shown_translated():
    import copy

    m = i18n.Message(i18n.N_("all {n} runs diverged; try a smaller learning rate"), n=4)
    i18n.set_language("pt")
    assert m == "all 4 runs diverged; try a smaller learning rate"
    assert json.dumps(m) == '"all 4 runs diverged; try a smaller learning rate"'
    assert i18n.shown(m) == (
        "todas as 4 execuções divergiram; tente um fator de aprendizagem η menor"
    )
    assert i18n.shown(copy.deepcopy(m)) == i18n.shown(m)
    assert i18n.shown("plain") == "plain"
    best = i18n.Message(
        i18n.N_(
            "{worse} of {ok} runs ended clearly worse (final loss above the best, "
            "{best}, + {by}): each start leads gradient descent down into its own "
            "local minimum, and nothing guarantees that any of them is the global one"
        ),
        worse=1,
        ok=2,
        best="0.1234",
        by="0.05",
    )
    assert "(loss final acima da melhor, 0,1234, + 0,05)" in best.translated()
    assert "(final loss above the best, 0.1234, + 0.05)" in best


def test_the_report_page_is_marked_portuguese(tmp_path):
    from retroprop.report import trace_html

    net = rp.mlp([2, 2, 2], "sigmoid", seed=0)
    trace = rp.explain_step(net, np.array([0.5, -1.0]), 1, lr=0.1)
    i18n.set_language("pt")
    page = trace_html(trace)
    assert '<html lang="pt-BR">' in page
    assert "<title>retroprop: passo 1 explicado</title>" in page
    data = json.loads(
        re.search(r'id="retroprop-data">(.*?)</script>', page, re.S).group(1)
    )
    assert data["labels"]["details"] == "Detalhes"
    assert data["labels"]["curves"] == "Curvas de aprendizagem"
    i18n.set_language("en")
    assert '<html lang="en">' in trace_html(trace)


@pytest.mark.browser
def test_the_report_page_shows_its_portuguese_labels(tmp_path):
    """The page shows the labels Python put in its data (and no JS error)."""
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("/usr/bin/chromium is missing")
    from playwright.sync_api import sync_playwright

    from retroprop.report import record_training, write_html

    i18n.set_language("pt")
    rec = record_training(steps=2, epochs=2)
    write_html(tmp_path / "r.html", rec.to_html())
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        pg = b.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto((tmp_path / "r.html").as_uri())
        pg.wait_for_selector("body[data-ready]", timeout=10_000)
        assert pg.inner_text("#details-card h2").strip().lower() == "detalhes"
        legend = pg.inner_text("#network-card .legend")
        assert "positivo" in legend and "Clique num neurônio" in legend
        assert "Acurácia por época" in pg.inner_text("#curves-card")
        assert pg.get_attribute("html", "lang") == "pt-BR"
        b.close()
    assert errors == []


def test_a_figure_has_portuguese_titles_and_decimal_commas(tmp_path):
    pytest.importorskip("matplotlib")
    from retroprop.plots import plot_history

    net = rp.mlp([4, 3], "sigmoid", seed=0)
    ds = rp.datasets.load_iris()
    history = rp.train(net, ds.X, ds.y, epochs=2, lr=0.05, seed=0)
    i18n.set_language("pt")
    svg = Path(plot_history(history, tmp_path / "h.svg")).read_text()
    # matplotlib draws text as paths and names each text in a comment
    texts = re.findall(r"<!-- (.*?) -->", svg)
    assert "Treinamento" in texts and "Acurácia" in texts and "época" in texts
    assert any(re.fullmatch(r"0,\d+", t) for t in texts)  # tick labels
    assert not any(re.fullmatch(r"0\.\d+", t) for t in texts)


def test_the_xlsx_sheets_and_labels_are_portuguese(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    net = rp.mlp([2, 2, 2], "sigmoid", seed=0)
    trace = rp.explain_step(net, np.array([0.5, -1.0]), 1, lr=0.1)
    i18n.set_language("pt")
    trace.to_xlsx(tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["parâmetros", "passo"]
    header = [c.value for c in wb["parâmetros"][1]]
    assert header[:3] == ["nome", "índice", "valor"]
    formulas = [c.value for c in wb["parâmetros"]["E"][1:]]
    assert formulas and all(f == "='passo'!$B$2" for f in formulas)
    assert wb["passo"]["A1"].value.startswith("Um passo de SGD")
    # the numbers stay numbers (any locale's spreadsheet reads them)
    assert isinstance(wb["parâmetros"]["C2"].value, float)
