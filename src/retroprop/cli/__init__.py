"""The ``retroprop`` command line: thin commands over the library.

Each command parses its options, calls the library and renders the result; heavy
imports happen inside the command. ``main`` turns every error retroprop raises on
purpose into one line on stderr and an exit code: 2 for bad usage or input, 1 for a
run that failed (training diverged, a verification failed), 130 when interrupted.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from retroprop.cli.clickwords import install as install_click_words
from retroprop.i18n import N_, _, set_language

install_click_words()  # click's Usage:, Options, errors: in the language in use

# name -> "module:attribute"; a command's module is imported only when it runs.
COMMANDS = {
    "train": "retroprop.cli.train:train",
    "predict": "retroprop.cli.train:predict",
    "explain": "retroprop.cli.explain:explain",
    "report": "retroprop.cli.report:report",
    "plot": "retroprop.cli.plot:plot",
    "sweep": "retroprop.cli.sweep:sweep",
    "seeds": "retroprop.cli.seeds:seeds",
    "surface": "retroprop.cli.surface:surface",
    "verify": "retroprop.cli.verify:verify",
    "exercise": "retroprop.cli.exercise:exercise",
    "playground": "retroprop.cli.playground:playground",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return translated(getattr(importlib.import_module(module), attr))
        return super().get_command(ctx, name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        translated(self)
        super().format_help(ctx, formatter)


_ENGLISH: dict[tuple[int, str], str] = {}  # (id of a holder, attribute) -> English


def translated(command: click.Command) -> click.Command:
    """``command`` with its help and its options' help in the language in use (the
    texts are written in English and marked with ``N_``; ``--lang`` is known only
    once the root group has parsed it, after the modules were imported)."""

    def tr(holder: object, attr: str) -> None:
        key = (id(holder), attr)
        text = _ENGLISH.setdefault(key, getattr(holder, attr, None) or "")
        if text:
            setattr(holder, attr, _(text))

    if not any(p.name == "lang" for p in command.params):
        command.params.append(lang_option())  # `retroprop train --lang pt` too
    tr(command, "options_metavar")  # the usage line's [OPTIONS]
    if isinstance(command, click.Group):
        tr(command, "subcommand_metavar")
    for holder in [command, *command.params]:
        tr(holder, "help")
        if isinstance(holder, click.Command):
            tr(holder, "short_help")
    if isinstance(command, click.Group) and not isinstance(command, LazyGroup):
        for sub in command.commands.values():
            translated(sub)
    return command


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is not None or ctx.parent is None:
        set_language(value)  # None at the root: RETROPROP_LANG, then the locale
        translated(ctx.command)  # its help, should --help follow
    return value


LANG_HELP = N_(
    "Language of the output: pt (português) or en (English); default: "
    "RETROPROP_LANG, then the locale (LANG=pt_BR.UTF-8 gives pt)."
)


def lang_option() -> click.Option:
    """``--lang pt|en``: on the root group and on every command."""
    return click.Option(
        ["--lang"],
        type=click.Choice(["pt", "en"]),
        default=None,
        is_eager=True,
        expose_value=False,
        callback=_choose_language,
        help=LANG_HELP,
    )


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="retroprop", prog_name="retroprop")
def cli() -> None:
    """Train, explain and verify multilayer perceptrons with backpropagation written
    out in the lecture's equations.

    Start with `retroprop train`: the lecture's 4-4-3-3 network on Iris.
    """


cli.params.append(lang_option())


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``retroprop`` script."""
    from retroprop.errors import DivergenceError, RetropropError

    try:
        rv = cli.main(args=argv, prog_name="retroprop", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(_("retroprop: interrupted"), err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as e:
        e.show()  # bare `retroprop`: the help text, as click prints it
        sys.exit(e.exit_code)
    except click.UsageError as e:
        # One line, like every other error: what is wrong and where to read more.
        where = e.ctx.command_path if e.ctx is not None else "retroprop"
        click.echo(
            _("retroprop: error: {message} (see '{where} --help')").format(
                message=_one_line(e.format_message()), where=where
            ),
            err=True,
        )
        sys.exit(e.exit_code)
    except click.ClickException as e:
        click.echo(
            _("retroprop: error: {message}").format(
                message=_one_line(e.format_message())
            ),
            err=True,
        )
        sys.exit(e.exit_code)
    except DivergenceError as e:
        click.echo(
            _("retroprop: error: {message}").format(message=_one_line(e)), err=True
        )
        sys.exit(1)
    except (RetropropError, OSError) as e:
        click.echo(
            _("retroprop: error: {message}").format(message=_one_line(e)), err=True
        )
        sys.exit(2)
    except MemoryError:
        click.echo(
            _(
                "retroprop: error: out of memory: the network or the data is too large "
                "for this machine; try smaller --hidden sizes or --batch-size"
            ),
            err=True,
        )
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo(_("retroprop: interrupted"), err=True)
        sys.exit(130)
    except Exception as e:  # never a traceback, unless asked for
        if os.environ.get("RETROPROP_DEBUG"):
            raise
        click.echo(
            f"retroprop: internal error: {type(e).__name__}: {_one_line(e)} "
            f"(run with RETROPROP_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
