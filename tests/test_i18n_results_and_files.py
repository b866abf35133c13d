"""The last English on Portuguese screens: the experiment results' notebook titles
and the model file's reasons for refusing a file (each a full sentence in the
language in use, with the English unchanged)."""

from __future__ import annotations

import json
import struct

import pytest

from retroprop import i18n
from retroprop.errors import ModelFileError
from retroprop.experiments.result import Result
from retroprop.io import load


@pytest.fixture(autouse=True)
def _back_to_the_environment():
    yield
    i18n.set_language(None)


def results() -> list[type]:
    import retroprop.experiments  # noqa: F401  (every result class registered)
    from retroprop.experiments import (  # noqa: F401
        activations,
        boundary,
        descent,
        grid,
        seeds,
        surface,
        sweep,
    )

    found, todo = [], list(Result.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted(found, key=lambda c: c.__name__)


def test_every_result_has_a_caption_in_both_languages():
    classes = results()
    assert len(classes) >= 9
    for cls in classes:
        assert cls.caption, f"{cls.__name__} has no caption"
        i18n.set_language("pt")
        pt = i18n._(cls.caption)
        i18n.set_language("en")
        assert i18n._(cls.caption) == cls.caption
        assert pt != cls.caption, f"{cls.__name__}'s caption is not translated"


def test_a_result_display_title_is_portuguese(tmp_path):
    from retroprop.experiments.activations import activation_curves

    result = activation_curves()
    i18n.set_language("pt")
    html = result._repr_html_()
    assert "Funções de ativação f e suas derivadas" in html
    i18n.set_language("en")
    assert "Activation functions f and their derivatives" in result._repr_html_()


def write_header(path, header: dict, data: bytes = b"") -> None:
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + data)


@pytest.mark.parametrize(
    ("content", "pt", "en"),
    [
        (b"abc", "curto demais para um cabeçalho", "too short for a header"),
        (
            {"__metadata__": {"format": "other"}},
            "não tem metadados do retroprop",
            "has no retroprop metadata",
        ),
        (
            {
                "__metadata__": {
                    "format": "retroprop",
                    "retroprop": '{"format_version": 99}',
                }
            },
            "versão de formato desconhecida 99",
            "unknown format version 99",
        ),
    ],
)
def test_a_refused_model_file_says_why_in_the_language_in_use(
    tmp_path, content, pt, en
):
    path = tmp_path / "m.safetensors"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write_header(path, content)
    for lang, words in (("pt", pt), ("en", en)):
        i18n.set_language(lang)
        with pytest.raises(ModelFileError) as e:
            load(path)
        assert words in str(e.value), (lang, str(e.value))


def test_the_descent_function_refusal_names_what_in_portuguese():
    from retroprop.errors import ConfigError
    from retroprop.experiments.descent import parse_function

    i18n.set_language("pt")
    with pytest.raises(ConfigError, match="o nome 'y'"):
        parse_function("w + y")
