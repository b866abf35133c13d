"""The README and the documentation site stay whole: links resolve, every page is in
the site's navigation, the quick start is the two commands the Makefile provides, and
every command of the command line is documented somewhere.

(The site itself is built with ``mkdocs build --strict`` by ``make docs`` in CI; these
checks need no MkDocs and run with the suite.)
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from retroprop.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# [text](target) and ![alt](target), without the "title" part.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


def nav_pages() -> list[str]:
    """The pages ``mkdocs.yml``'s nav lists, relative to docs/ (``- Title: page.md``)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r"^\s*- [^:\n]+:\s*(\S+\.md)\s*$", nav, flags=re.M)


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.name)
def test_relative_links_point_to_files_that_exist(path):
    broken = []
    for target in relative_links(path):
        file = (path.parent / target.split("#")[0]).resolve()
        if not file.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    listed = nav_pages()
    assert len(listed) == len(set(listed)), "a page is listed twice in mkdocs.yml"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert set(listed) - on_disk == set(), "mkdocs.yml lists pages that do not exist"
    assert on_disk - set(listed) == set(), "docs/ has pages mkdocs.yml does not list"


def test_readme_quick_start_is_two_make_targets_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target


def command_paths(group: click.Group, prefix: str = "retroprop") -> list[str]:
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            paths += command_paths(command, f"{prefix} {name}")
        else:
            paths.append(f"{prefix} {name}")
    return paths


def test_every_command_is_documented():
    text = "\n".join(p.read_text(encoding="utf-8") for p in markdown_files())
    paths = command_paths(cli)
    assert "retroprop train" in paths and "retroprop plot descent" in paths
    missing = [p for p in paths if p not in text]
    assert not missing, f"commands no page mentions: {missing}"
