"""The guard that keeps Portuguese complete: every command of the command line, its
main path and its main errors, run under a Brazilian locale, must show no English
sentence; and under ``--lang en`` no Portuguese one.

What a user reads is scrubbed of what stays the same in both languages before the
words are looked for: option names (``--epochs``), quoted values and file names,
code in backticks, identifiers (``sepal_length``, ``fc1.weight``) and the terms the
lecture itself keeps in English ("forward propagation", "loss", "softmax",
"Cross Entropy Loss"; see /work/shared/lecture/GLOSSARY.md). A failure names the
command and the line where a word of the other language was found.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import retroprop

IRIS = str(Path(retroprop.__file__).parent / "datasets" / "iris.csv")

ENGLISH = re.compile(
    r"\b(the|Wrote|epochs?|layers?|learning rate|Usage|Options|Commands|samples?|"
    r"hidden|weights?|steps|Show|Error|error|No such|Missing|diverged|got|must|"
    r"cannot|expected|column|line|is not|Invalid|Trained|Saved|accuracy|"
    r"training|network|run|runs|seed|seeds)\b"
)
"""English words that a Portuguese sentence of retroprop never holds (not "step": an
activation's name, ``--activation step``)."""

PORTUGUESE = re.compile(
    r"\b(épocas?|camadas?|pesos|Uso|Opções|Comandos|Erro|erro|Escreveu|Salvou|não|"
    r"fator de aprendizagem|instâncias?|linha|coluna|rede|acurácia|treinamento|"
    r"passos?|sementes?|recebido|esperado)\b|ção\b"
)
"""Portuguese words that an English sentence of retroprop never holds."""

KEPT = re.compile(
    r"^\s*[a-z]+(?=\s{2,})"  # a command's name in a help page's list
    r"|--?[A-Za-z][\w-]*"  # options
    r"|'[^']*'|\"[^\"]*\"|`[^`]*`"  # quoted values, file names, code
    r"|\S*[\\/]\S*"  # paths
    r"|\b\w*[_\d]\w*(?:\.\w+)*"  # identifiers and parameter names (fc1.weight, 4.bias)
    r"|\w+\.(?:csv|png|svg|pdf|html|xlsx|md|json|safetensors)\b"
    r"|retroprop(?: [a-z]+){0,2}"  # the program and its commands
    r"|forward propagation|Cross Entropy Loss|PyTorch|LANG=\S+|pip install \S+"
    r"|\([^()]*English[^()]*\)"  # the --lang option's own choice, named in English
)
"""What stays the same in both languages (scrubbed before looking for words)."""


def scrub(text: str) -> str:
    return KEPT.sub(" ", text)


def stray_words(text: str, words: re.Pattern[str]) -> list[str]:
    """Each line of ``text`` (scrubbed) that holds one of ``words``."""
    found = []
    for line in text.splitlines():
        m = words.search(scrub(line))
        if m:
            found.append(f"{m.group(0)!r} in: {line.strip()}")
    return found


def run(args: list[str], env_extra: dict[str, str], cwd: Path) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RETROPROP_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")
    }
    env.update({"COLUMNS": "200", **env_extra})
    r = subprocess.run(
        [sys.executable, "-m", "retroprop", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout + r.stderr


HELP = [
    [],
    ["train"],
    ["predict"],
    ["explain"],
    ["report"],
    ["plot"],
    ["plot", "activations"],
    ["plot", "descent"],
    ["plot", "boundary"],
    ["sweep"],
    ["sweep", "lr"],
    ["seeds"],
    ["surface"],
    ["verify"],
    ["exercise"],
    ["playground"],
]

MAIN = [
    ["train", "--epochs", "2", "--save", "m.safetensors"],
    ["predict", "--model", "m.safetensors", "--data", IRIS],
    ["explain"],
    ["explain", "--format", "markdown"],
    ["explain", "--model", "m.safetensors"],
    ["report", "--epochs", "2", "--steps", "2", "-o", "r.html"],
    ["exercise", "--variants", "2", "--output", "sheets"],
]

NEEDS_PLOTS = [
    ["seeds", "--n", "3", "--epochs", "2", "--quiet", "-o", "s.png"],
    ["sweep", "lr", "--values", "0.01,0.1", "--epochs", "2", "--quiet", "-o", "w.png"],
    ["surface", "--epochs", "2", "--quiet", "--steps", "5", "-o", "u.png"],
    ["plot", "activations", "-o", "a.png"],
    ["plot", "descent", "-o", "d.png"],
    ["plot", "descent", "--function", "w^2", "-o", "d.png"],
    ["plot", "activations", "-o", "a.gif"],
]

ERRORS = [
    ["train", "--foo"],
    ["train", "--epochs", "x"],
    ["train", "--epochs", "0"],
    ["train", "--hidden", "4,x"],
    ["train", "--activation", "step"],
    ["train", "--activation", "bogus"],
    ["train", "--lr", "10000", "--epochs", "3", "--quiet"],
    ["train", "--data", "text.csv"],
    ["train", "--data", "ids.csv"],
    ["train", "--data", "twice.csv"],
    ["train", "--data", "missing.csv"],
    ["train", "--data", IRIS, "--target", "nope"],
    ["trian"],
    ["predict"],
    ["explain", "--activation", "step"],
    ["sweep", "lr", "--values", "x"],
    ["train", "--epochs", "1", "--quiet", "--record", "x.bias", "--record-to", "r.csv"],
    ["train", "--save", "nowhere/m.safetensors"],
    ["predict", "--model", "none.safetensors", "--data", IRIS],
    ["explain", "--step", "0"],
    ["exercise", "--sizes", "2"],
    ["seeds", "--n", "0"],
]

NEEDS_TORCH = [
    ["verify", "--steps", "3"],
    ["verify", "--steps", "5", "--lr", "1e6"],
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("words")
    (d / "text.csv").write_text("a,b,c\n1,x,0\n1,2,1\n")
    rows = "".join(f"{i},{i % 3}.5,{(i * 7) % 5}.25,{i % 2}\n" for i in range(40))
    (d / "ids.csv").write_text("id,u,v,c\n" + rows)
    (d / "twice.csv").write_text("a,a,c\n1,2,0\n3,4,1\n")
    return d


def commands(include_help: bool = True) -> list[list[str]]:
    out = [[*args, "--help"] for args in HELP] if include_help else []
    out += MAIN + ERRORS
    if importlib.util.find_spec("matplotlib"):
        out += NEEDS_PLOTS
    if importlib.util.find_spec("torch"):
        out += NEEDS_TORCH
    return out


def test_the_scrubbing_keeps_the_words_and_drops_what_is_the_same_in_both():
    assert stray_words("Wrote r.html", ENGLISH) == ["'Wrote' in: Wrote r.html"]
    assert stray_words("use --epochs 3 on 'epoch.csv' (fc1.weight)", ENGLISH) == []
    assert stray_words("a época 3", PORTUGUESE) == ["'época' in: a época 3"]
    assert stray_words("a retropropagação", PORTUGUESE)


def test_portuguese_everywhere_under_a_brazilian_locale(folder):
    """``LANG=pt_BR.UTF-8``: no English word in any command's help, output or error."""
    found = {}
    for args in commands():
        stray = stray_words(run(args, {"LANG": "pt_BR.UTF-8"}, folder), ENGLISH)
        if stray:
            found[" ".join(args)] = stray[:3]
    assert found == {}


def test_english_everywhere_under_lang_en(folder):
    """``--lang en`` wins over a Brazilian locale: no Portuguese word anywhere."""
    found = {}
    for args in commands():
        if args and args[0] == "exercise":
            args = [*args, "--lang", "en"]  # the exercise's sheets default to pt
        out = run(["--lang", "en", *args], {"LANG": "pt_BR.UTF-8"}, folder)
        stray = stray_words(out, PORTUGUESE)
        if stray:
            found[" ".join(args)] = stray[:3]
    assert found == {}
