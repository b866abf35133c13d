"""Portuguese and English: the gettext catalogue, the language in use, numbers for people.

The messages are written in English in the code, marked with ``_()`` (translated now),
``ngettext()`` (singular and plural) or ``N_()`` (marked only, translated where shown),
and translated from ``locale/<lang>/LC_MESSAGES/retroprop.mo``, the compiled gettext
catalogue shipped with the package (``make catalogues`` extracts, updates and compiles
it with Babel). The Portuguese uses the lecture's own words (``fator de aprendizagem
η``, ``retropropagação``, ``camada oculta``, ``época``; see docs/languages.md).

The language is, in order: the one given to ``set_language`` (the command line's
``--lang``), ``RETROPROP_LANG``, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``:
``pt...`` gives Portuguese), English otherwise.

``decimal`` writes a formatted number with the decimal comma in Portuguese: for what
people read (tables, figures, Markdown), never for machine formats (JSON, CSV).
This module imports no other part of retroprop, so every layer may use it.
"""

from __future__ import annotations

import functools
import gettext
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DOMAIN = "retroprop"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "pt")
"""The languages retroprop speaks; English is the source language of the messages."""

_chosen: str | None = None
_NUMBER = re.compile(r"-?\d+\.\d+(e[+-]\d+)?")


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """The language asked for by the environment: ``RETROPROP_LANG``, then the locale
    (the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set); ``"en"`` when
    neither names a language retroprop speaks."""
    env = os.environ if environ is None else environ
    wanted = env.get("RETROPROP_LANG", "").strip()
    if wanted:
        return normalize(wanted) or "en"
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "").strip()
        if value:  # the first one set decides, as for every POSIX program
            return normalize(value) or "en"
    return "en"


def normalize(name: str) -> str | None:
    """``"pt_BR.UTF-8"``, ``"pt-BR"``, ``"PT"`` -> ``"pt"``; None when not spoken."""
    code = name.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    return code if code in LANGUAGES else None


def set_language(lang: str | None) -> None:
    """Speak ``lang`` (``"pt"`` or ``"en"``, or a locale name such as ``"pt_BR"``)
    from now on; None goes back to what the environment asks for."""
    global _chosen
    if lang is None:
        _chosen = None
        return
    code = normalize(lang)
    if code is None:
        raise ValueError(
            f"language {lang!r} is not available; choose one of {', '.join(LANGUAGES)}"
        )
    _chosen = code


def language() -> str:
    """The language in use: ``"pt"`` or ``"en"``."""
    return _chosen if _chosen is not None else detect_language()


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English: the messages as written)."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(
        DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True
    )


def _(message: str) -> str:
    """``message`` in the language in use."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or the plural of a message, for ``n``, in the language in use."""
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it (module-level texts,
    translated with ``_()`` where they are shown)."""
    return message


class Message(str):
    """A sentence built from a marked template and its values: the English text
    itself (what JSON and ``str`` see, stable in every language), and
    ``translated()`` for what is shown to people.

    >>> m = Message(N_("{n} of {k} runs diverged"), n=2, k=5)
    >>> m, m.translated()  # doctest: +SKIP
    ('2 of 5 runs diverged', '2 de 5 execuções divergiram')
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Message:
        # (no values: a copy being rebuilt from its text, which is already final)
        self = super().__new__(cls, template.format(**values) if values else template)
        self.template, self.values = template, values
        return self

    def translated(self) -> str:
        """The sentence in the language in use; numbers with the decimal comma in
        Portuguese (values given as formatted numbers, e.g. ``f"{x:.4f}"``)."""
        shown = {
            k: decimal(v) if isinstance(v, str) and _NUMBER.fullmatch(v) else v
            for k, v in self.values.items()
        }
        return _(self.template).format(**shown)


def shown(text: str) -> str:
    """``text`` as people read it: a ``Message`` translated, anything else as is."""
    return text.translated() if isinstance(text, Message) else text


def decimal(text: str) -> str:
    """A number already formatted with a point (``"0.9667"``, ``"1.5e+302"``), with
    the decimal comma in Portuguese: only for what people read."""
    return text.replace(".", ",") if language() == "pt" else text


def count(n: int) -> str:
    """A whole number with thousands separators, for people: ``1,234,567`` in English,
    ``1.234.567`` in Portuguese."""
    text = f"{n:,}"
    return text.replace(",", ".") if language() == "pt" else text


def list_separator() -> str:
    """What separates numbers in a list people read: ``"; "`` where the decimal
    comma is in use, ``", "`` otherwise."""
    return "; " if language() == "pt" else ", "


def html_lang() -> str:
    """The ``lang`` attribute of a page in the language in use."""
    return "pt-BR" if language() == "pt" else "en"


def extract(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[Any, ...]]:
    """Babel's extractor for retroprop (babel.cfg): the marked messages, as Babel's
    Python extractor finds them, plus the help of the command line, left unmarked in
    the code: the docstrings of the click commands and the ``help=`` texts of click
    options (translated where the command line shows them, ``retroprop.cli``)."""
    import ast

    from babel.messages.extract import extract_python

    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("option"):
            for kw in node.keywords:
                v = kw.value
                if kw.arg == "help" and isinstance(v, ast.Constant) and v.value:
                    yield v.lineno, "", v.value, []
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if any(".command(" in d or ".group(" in d for d in decorators):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield node.lineno, "", doc, []
