"""click's own words ("Usage:", "Options", "Show this message and exit.", "No such
option ...") in the language in use.

click marks its texts with the standard library's gettext (the default domain,
``messages``) and looks them up with ``gettext.gettext``, which reads the locale of
the environment only. retroprop's language can also come from ``--lang``, known only
once the command line is parsed, so ``install`` points click's modules at
retroprop's own ``_`` and ``ngettext``: click's texts are then translated from
retroprop's catalogue, where ``CLICK_MESSAGES`` (the texts click shows a user of the
command line, copied exactly as click writes them) brings them for Babel to extract.
A text missing from the catalogue stays as click writes it: English.
"""

from __future__ import annotations

import gettext
import importlib

from retroprop.i18n import N_, _, ngettext

CLICK_MESSAGES = (
    # help pages
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("%(prog)s, version %(version)s"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("(dynamic)"),
    N_("deprecated"),
    N_("Choose from:\n\t{choices}"),
    # the usage line (``Command.options_metavar``, ``Group.subcommand_metavar``,
    # translated with the command's help by ``retroprop.cli.translated``)
    N_("[OPTIONS]"),
    N_("COMMAND [ARGS]..."),
    # errors
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("Missing command."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Option {name!r} does not take a value."),
    N_("Argument {name!r} takes {nargs} values."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{name} {filename!r} is not executable."),
    N_("Could not open file {filename!r}: {message}"),
    N_("Aborted!"),
    N_("unknown error"),
)
"""click's singular texts retroprop translates (``CLICK_PLURALS``: the others)."""

CLICK_PLURALS = (
    ngettext(
        "Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1
    ),
    ngettext(
        "Got unexpected extra argument ({args})",
        "Got unexpected extra arguments ({args})",
        1,
    ),
    ngettext(
        "Option {name!r} requires an argument.",
        "Option {name!r} requires {nargs} arguments.",
        1,
    ),
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1),
    ngettext(
        "Takes {nargs} values but 1 was given.",
        "Takes {nargs} values but {len} were given.",
        1,
    ),
)
"""click's texts with a plural (marked here for Babel; the tuple itself is unused)."""

MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
    "click.utils",
)
"""click's modules that show text to a user of the command line."""


TYPE_NAMES = {
    "IntParamType": N_("integer"),
    "IntRange": N_("integer range"),
    "FloatParamType": N_("float"),
    "FloatRange": N_("float range"),
    "BoolParamType": N_("boolean"),
    "StringParamType": N_("text"),
}
"""click's parameter types whose name shows in the help (``--epochs INTEGER``) and in
errors ("'x' is not a valid integer"): class -> its name as click writes it."""


class _Word:
    """A class attribute read in the language in use at the time it is read."""

    def __init__(self, text: str):
        self.text = text

    def __get__(self, obj: object, owner: type | None = None) -> str:
        return _(self.text)


def install() -> None:
    """Translate click's texts with retroprop's catalogue from now on (idempotent):
    each of click's ``MODULES`` looks its texts up with ``retroprop.i18n``, and the
    names of click's number, boolean and text types are read in the language in
    use."""
    import click.core
    import click.types

    command = click.core.Command
    if not getattr(command.get_help_option, "retroprop", False):
        plain = command.get_help_option

        def get_help_option(
            self: click.core.Command, ctx: click.core.Context
        ) -> click.core.Option | None:
            # click makes the --help option once per command and keeps it: its help
            # is written again in the language in use each time it is asked for
            option = plain(self, ctx)
            if option is not None:
                option.help = _("Show this message and exit.")
            return option

        get_help_option.retroprop = True  # type: ignore[attr-defined]
        command.get_help_option = get_help_option  # type: ignore[method-assign]

    for cls_name, text in TYPE_NAMES.items():
        cls = getattr(click.types, cls_name, None)
        if cls is not None and isinstance(cls.__dict__.get("name"), str | _Word):
            cls.name = _Word(text)
    for name in MODULES:
        module = importlib.import_module(name)
        if getattr(module, "_", None) in (gettext.gettext, _):
            module._ = _  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) in (gettext.ngettext, ngettext):
            module.ngettext = ngettext  # type: ignore[attr-defined]
