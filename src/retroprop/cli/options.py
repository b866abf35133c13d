"""Every option the commands share, with one set of ranges, and their parsers.

A command takes its options from here, so ``--epochs`` means the same (an integer, at
least 1) in ``train``, ``report``, ``sweep``, ``seeds``, ``surface`` and ``plot
boundary``, and a learning rate is a positive finite number everywhere. The choices
of ``--activation``, ``--init``, ``--loss``, ``--optimizer`` and ``--dtype`` are the
keys of the library's registries (``retroprop.ACTIVATIONS``, ``INITIALISERS``,
``LOSSES``, ``OPTIMIZERS``, the verify tolerances), read each time they are shown or
checked: an activation registered by the user's code is offered like a built-in one.
Commands that train offer only activations with a derivative (not the step).

The data options also say how to read ``--data`` (``--sep``, ``--decimal``,
``--encoding``, ``--drop-missing``) and which columns to use (``--features``,
``--drop``, ``--task``); the command does not receive them: ``load_data`` and
``read_options`` read them from the click context.

Bad values fail here, before any work, as click usage errors: one line naming the
option, the value and what is allowed; ``retroprop.cli.main`` turns them into exit 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from retroprop.i18n import N_, _
from retroprop.recipe import LECTURE

if TYPE_CHECKING:
    from retroprop.datasets import Dataset

F = TypeVar("F", bound=Callable[..., Any])

# -- types ------------------------------------------------------------------------------


class RegistryChoice(click.Choice):
    """A choice among a registry's keys, read when shown or checked (never cached).

    ``registry`` returns the mapping (name -> class or function); ``keep`` filters its
    values, and ``refused`` explains why a registered name that ``keep`` drops is not
    offered here (for the step: it cannot be trained).
    """

    def __init__(
        self,
        registry: Callable[[], Mapping[str, Any]],
        *,
        keep: Callable[[Any], bool] | None = None,
        refused: Callable[[str], str] | None = None,
    ):
        self.registry, self.keep, self.refused = registry, keep, refused
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        items = self.registry().items()
        return tuple(sorted(k for k, v in items if self.keep is None or self.keep(v)))

    @choices.setter
    def choices(self, value: Iterable[str]) -> None:
        pass  # click.Choice.__init__ assigns them; they are read from the registry

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        if (
            self.refused is not None
            and value in self.registry()
            and value not in self.choices
        ):
            self.fail(self.refused(value), param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloat(click.ParamType):
    """A finite float in ``[low, high]`` (either end open or absent)."""

    name = "float"

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
    ):
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open

    def _range(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        if not parts:
            return _("a finite number")
        return _("a finite number {bounds}").format(bounds=_(" and ").join(parts))

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(
                    _("expected {what}, got {value!r}").format(
                        what=self._range(), value=value
                    ),
                    param,
                    ctx,
                )
        bad = not math.isfinite(v)
        if self.low is not None:
            bad = bad or (v <= self.low if self.low_open else v < self.low)
        if self.high is not None:
            bad = bad or (v >= self.high if self.high_open else v > self.high)
        if bad:
            self.fail(
                _("expected {what}, got {value!r}").format(
                    what=self._range(), value=value
                ),
                param,
                ctx,
            )
        return v

    def get_metavar(
        self, param: click.Parameter, ctx: click.Context | None = None
    ) -> str:
        return _("FLOAT")


class Count(click.IntRange):
    """An integer range whose error says why the bound is there (``why``)."""

    def __init__(self, low: int, high: int | None = None, *, why: str = ""):
        super().__init__(low, high)
        self.why = why

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as e:
            if not self.why or not str(value).strip().lstrip("-").isdigit():
                raise
            self.fail(f"{e.message.rstrip('.')}: {_(self.why)}", param, ctx)


EPOCHS = Count(1, why=N_("0 epochs make no update; give at least 1"))
POSITIVE = FiniteFloat(0, low_open=True)
LR = POSITIVE
SEED = click.IntRange(0)
TEST_SIZE = FiniteFloat(0, 1, low_open=True, high_open=True)
MOMENTUM = FiniteFloat(0, 1, high_open=True)
WEIGHT_DECAY = FiniteFloat(0)


def _activations() -> Mapping[str, Any]:
    from retroprop.engine import activations

    return activations.ACTIVATIONS


def _trainable(cls: Any) -> bool:
    return bool(getattr(cls, "differentiable", True))


def _not_trainable(name: str) -> str:
    offered = ", ".join(sorted(k for k, v in _activations().items() if _trainable(v)))
    return _(
        "{name!r} is not one of {offered}: it cannot be trained by backpropagation, "
        "it has no usable derivative (see `retroprop plot activations`)"
    ).format(name=name, offered=offered)


def activation_choice(trainable: bool = True) -> RegistryChoice:
    """``retroprop.ACTIVATIONS``' names; only those with a derivative if ``trainable``."""
    if trainable:
        return RegistryChoice(_activations, keep=_trainable, refused=_not_trainable)
    return RegistryChoice(_activations)


def _initialisers() -> Mapping[str, Any]:
    from retroprop.engine import init

    return init.INITIALISERS


def _losses() -> Mapping[str, Any]:
    from retroprop.engine import losses

    return losses.LOSSES


def _optimizers() -> Mapping[str, Any]:
    from retroprop.engine import optim

    return optim.OPTIMIZERS


def _dtypes() -> Mapping[str, Any]:
    from retroprop.interop.verify import DEFAULT_TOLERANCE

    return DEFAULT_TOLERANCE


# -- parsers ------------------------------------------------------------------------------


def parse_batch_size(
    ctx: click.Context, param: click.Parameter, value: str
) -> int | None:
    """``N`` (a positive integer) or ``full`` (None: the whole training set)."""
    if value.strip().lower() in ("full", "all", "none"):
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(
            _("expected a positive integer or 'full', got {value!r}").format(
                value=value
            )
        )
    return n


def parse_hidden(
    ctx: click.Context, param: click.Parameter, value: str
) -> tuple[int, ...]:
    """``4,3`` -> ``(4, 3)``; ``none`` -> no hidden layer."""
    from retroprop.errors import ConfigError
    from retroprop.recipe import parse_hidden as parse

    try:
        return parse(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def floats(text: str, what: str, *, positive: bool = False) -> list[float]:
    """``"0.01,0.1"`` -> ``[0.01, 0.1]``: finite numbers (positive if asked)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            _(
                "{what} must be comma-separated numbers like 0.01,0.1; got {text!r}"
            ).format(what=what, text=text)
        ) from None
    if not values:
        raise click.BadParameter(
            _("{what} needs at least one number, got {text!r}").format(
                what=what, text=text
            )
        )
    bad = [v for v in values if not math.isfinite(v) or (positive and v <= 0)]
    if bad:
        message = (
            _("{what} must be positive finite numbers; got {bad!r} in {text!r}")
            if positive
            else _("{what} must be finite numbers; got {bad!r} in {text!r}")
        )
        raise click.BadParameter(message.format(what=what, bad=bad[0], text=text))
    return values


def parse_range(
    ctx: click.Context, param: click.Parameter, value: str
) -> tuple[float, float]:
    """``LOW,HIGH`` with ``LOW < HIGH``."""
    lo_hi = floats(value, "--range")
    if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1]:
        raise click.BadParameter(
            _("expected LOW,HIGH with LOW < HIGH, got {value!r}").format(value=value)
        )
    return lo_hi[0], lo_hi[1]


def output_path(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """An output file's folder must exist, checked before any work (``-``: stdout)."""
    if value is None or value == "-":
        return value
    from retroprop.atomic import check_writable
    from retroprop.errors import ConfigError

    try:
        return check_writable(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def figure_path(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """A figure's path, checked before any work: its folder exists and matplotlib is
    installed (else a ConfigError naming the ``plots`` extra: exit 2, one line). Its
    extension is checked by ``check_figure``, after ``check_outputs`` has compared the
    outputs with the inputs."""
    if value is None:
        return value
    from retroprop.plots import require_matplotlib

    require_matplotlib()
    return output_path(ctx, param, value)


def check_figure(path: str | None, option: str = "--output") -> None:
    """Refuse a figure path whose extension names no format of
    ``retroprop.plots.FORMATS`` (one line naming them), before any work."""
    if path is None:
        return
    from retroprop.errors import ConfigError
    from retroprop.plots import figure_format

    try:
        figure_format(path)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint=f"'{option}'") from None


def dpi_option(f: F) -> F:
    """``--dpi``: dots per inch of the figure, in ``retroprop.plots.DPI_RANGE``."""
    from retroprop.plots import DPI, DPI_RANGE

    return click.option(
        "--dpi",
        type=click.IntRange(*DPI_RANGE),
        default=DPI,
        show_default=True,
        help=N_(
            "Dots per inch of the figure (30 to 1200): the PNG's resolution (300 for "
            "print), the text's scale in PDF and SVG."
        ),
    )(f)


# -- option groups ------------------------------------------------------------------------


def _apply(f: F, options: Sequence[Callable[[Any], Any]]) -> F:
    for opt in reversed(options):  # listed in the order --help shows them
        f = opt(f)
    return f


def data_options(f: F) -> F:
    """``--data``, ``--target``, ``--test-size``, how to read the file and which columns.

    Iris by default, or the user's CSV. The reading options (``dialect_options``,
    ``column_options``) are not passed to the command: ``load_data(data, target)``
    reads them from the click context.
    """
    return _apply(
        column_options(dialect_options(f)),
        [
            click.option(
                "--data",
                metavar="FILE.csv",
                default=None,
                type=click.Path(),  # load_csv names a missing file or a folder
                help="A CSV of numeric features and a class column "
                "(default: the bundled Iris).",
            ),
            click.option(
                "--target",
                metavar="COLUMN",
                default=None,
                help="Class column of --data (default: the last column).",
            ),
            click.option(
                "--test-size",
                type=TEST_SIZE,
                default=LECTURE["test_size"],
                show_default=True,
                help="Fraction of each class held out for testing (0 < f < 1).",
            ),
        ],
    )


_READ = "retroprop.read"  # ctx.meta key: load_csv's options given on the command line


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value is not False and value != ():
        ctx.meta.setdefault(_READ, {})[param.name] = value
    return value


def _columns(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    cols = [c.strip() for c in value.split(",")]
    if not all(cols):
        raise click.BadParameter(
            _(
                "expected column names or numbers separated by commas, got {value!r}"
            ).format(value=value)
        )
    return _remember(ctx, param, cols)


def _separator(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    sep = named.get(value.lower(), value)
    if len(sep) != 1:
        raise click.BadParameter(
            _(
                "expected one character (or tab, comma, semicolon, pipe), got {value!r}"
            ).format(value=value)
        )
    return _remember(ctx, param, sep)


def dialect_options(f: F) -> F:
    """``--sep``, ``--decimal``, ``--encoding``, ``--drop-missing``: how to read a CSV."""
    return _apply(
        f,
        [
            click.option(
                "--sep",
                metavar="CHAR",
                expose_value=False,
                callback=_separator,
                help="Field separator of --data (default: detected among , ; tab |).",
            ),
            click.option(
                "--decimal",
                type=click.Choice([".", ","]),
                expose_value=False,
                callback=_remember,
                help="Decimal mark of --data's numbers (default: detected).",
            ),
            click.option(
                "--encoding",
                metavar="NAME",
                expose_value=False,
                callback=_remember,
                help="Text encoding of --data, e.g. utf-8, cp1252, latin-1, utf-16 "
                "(default: detected).",
            ),
            click.option(
                "--drop-missing",
                is_flag=True,
                expose_value=False,
                callback=_remember,
                help="Drop the rows with a missing value (empty, NA, N/A, NaN, null, ?) "
                "instead of stopping at the first.",
            ),
        ],
    )


def column_options(f: F) -> F:
    """``--features``, ``--drop``, ``--task``: which columns, and what to predict.

    A command with its own option of one of these names (``plot boundary``'s
    ``--features``, the two features on the axes) keeps it.
    """
    from retroprop.datasets.dataset import TASKS

    own = {p.name for p in getattr(f, "__click_params__", [])}
    opts = {
        "features": click.option(
            "--features",
            metavar="COLS",
            expose_value=False,
            callback=_columns,
            help="Feature columns to use, by name or number from 1, comma-separated "
            "(default: all but the target); named here, an id-like column is used.",
        ),
        "drop": click.option(
            "--drop",
            metavar="COLS",
            expose_value=False,
            callback=_columns,
            help="Columns to leave out, by name or number from 1, comma-separated.",
        ),
        "task": click.option(
            "--task",
            type=click.Choice(list(TASKS)),
            expose_value=False,
            callback=_remember,
            help="Predict classes or a number (default: classes when the target is "
            "text or a few whole numbers, else regression).",
        ),
    }
    return _apply(f, [opt for name, opt in opts.items() if name not in own])


def read_options() -> dict[str, Any]:
    """``load_csv``'s keyword arguments given on the command line (``--sep``, ...)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_READ, {})) if ctx is not None else {}


def load_data(
    data: str | None, target: str | None, *, regression: bool = False
) -> Dataset:
    """The ``Dataset`` the command's data options describe (Iris when no ``--data``).

    ``regression=False``: a command that trains classifiers only refuses a regression
    target with a one-line error instead of misreading it.
    """
    from importlib import resources

    from retroprop.datasets import load_csv
    from retroprop.errors import DataError
    from retroprop.recipe import load_dataset

    opts = read_options()
    if data is None and not opts:
        return load_dataset(None, target)
    if data is None:
        if target not in (None, "species"):
            return load_dataset(None, target)  # its error names Iris' columns
        with resources.as_file(
            resources.files("retroprop.datasets") / "iris.csv"
        ) as path:
            ds = load_csv(path, target="species", **opts)
        ds.name, ds.source = "iris", {}
    else:
        ds = load_csv(data, target=target, **opts)
    if ds.task == "regression" and not regression:
        raise DataError(
            _(
                "{name}: the target {target!r} holds numbers (regression); this "
                "command trains classifiers only: use retroprop train, or --task "
                "classification if the numbers are classes"
            ).format(name=ds.name, target=ds.target_name)
        )
    return ds


def network_options(*, init: bool = True, step: bool = False) -> Callable[[F], F]:
    """``--hidden``, ``--activation`` (trainable ones; every one with ``step``, for
    ``explain``, which shows where backpropagation stops), ``--init``, ``--seed``."""

    def deco(f: F) -> F:
        opts = [
            click.option(
                "--hidden",
                metavar="SIZES",
                default=",".join(map(str, LECTURE["hidden"])),
                show_default=True,
                callback=parse_hidden,
                help="Hidden layer sizes, comma-separated ('none' for no hidden layer).",
            ),
            click.option(
                "--activation",
                type=activation_choice(trainable=not step),
                default=LECTURE["activation"],
                show_default=True,
                help=(
                    N_(
                        "Activation of the hidden layers. 'step' shows the forward "
                        "pass and where backpropagation stops."
                    )
                    if step
                    else N_("Activation of the hidden layers.")
                ),
            ),
        ]
        if init:
            opts.append(
                click.option(
                    "--init",
                    type=RegistryChoice(_initialisers),
                    default="torch",
                    show_default=True,
                    help="Initial weights: 'torch' is nn.Linear's default, "
                    "'glorot' scikit-learn's.",
                )
            )
        opts.append(
            click.option(
                "--seed",
                type=SEED,
                default=LECTURE["seed"],
                show_default=True,
                help="Seed of the initial weights, the split and the sample order.",
            )
        )
        return _apply(f, opts)

    return deco


def lr_option(f: F) -> F:
    """``--lr``: a positive finite number, the lecture's eta."""
    return click.option(
        "--lr",
        type=LR,
        default=LECTURE["lr"],
        show_default=True,
        help="Learning rate (the lecture's eta), a positive number.",
    )(f)


def epochs_option(f: F) -> F:
    """``--epochs``: at least 1."""
    return click.option(
        "--epochs",
        type=EPOCHS,
        default=LECTURE["epochs"],
        show_default=True,
        help="Passes over the training data (at least 1).",
    )(f)


def batch_size_option(f: F) -> F:
    """``--batch-size N|full``."""
    return click.option(
        "--batch-size",
        metavar="N|full",
        default=str(LECTURE["batch_size"]),
        show_default=True,
        callback=parse_batch_size,
        help="Samples per update: 1 is the lecture's per-sample descent, "
        "'full' the whole training set.",
    )(f)


def training_options(f: F) -> F:
    """``--lr``, ``--epochs``, ``--batch-size``: plain SGD, as the lecture."""
    return lr_option(epochs_option(batch_size_option(f)))


def momentum_options(f: F) -> F:
    """``--momentum``, ``--nesterov``, ``--weight-decay`` (torch.optim.SGD's)."""
    return _apply(
        f,
        [
            click.option(
                "--momentum",
                type=MOMENTUM,
                default=0.0,
                show_default=True,
                help="SGD momentum (torch.optim.SGD's meaning), 0 <= m < 1.",
            ),
            click.option(
                "--nesterov", is_flag=True, help="Nesterov momentum (needs --momentum)."
            ),
            click.option(
                "--weight-decay",
                type=WEIGHT_DECAY,
                default=0.0,
                show_default=True,
                help="L2 penalty added to the gradient.",
            ),
        ],
    )


def optimizer_option(f: F) -> F:
    """``--optimizer``: a key of ``retroprop.OPTIMIZERS``."""
    return click.option(
        "--optimizer",
        type=RegistryChoice(_optimizers),
        default="sgd",
        show_default=True,
        help="Optimiser.",
    )(f)


def loss_option(f: F) -> F:
    """``--loss``: a key of ``retroprop.LOSSES``."""
    return click.option(
        "--loss",
        type=RegistryChoice(_losses),
        default="cross_entropy",
        show_default=True,
        help="Loss function.",
    )(f)


def dtype_option(f: F) -> F:
    """``--dtype``: the precisions ``retroprop verify`` has tolerances for."""
    return click.option(
        "--dtype",
        type=RegistryChoice(_dtypes),
        default="float64",
        show_default=True,
        help="Precision of both computations.",
    )(f)


def recording_options(f: F) -> F:
    """``--steps``, ``--every``, ``--from``, ``--to``: which iterations ``retroprop
    report`` records in full (``record_training``'s ``steps``, ``every``, ``start``,
    ``stop``)."""
    return _apply(
        f,
        [
            click.option(
                "--steps",
                type=Count(
                    1, 1000, why="each recorded step keeps every number of the step"
                ),
                default=20,
                show_default=True,
                help="How many iterations to record in full (every number), at most.",
            ),
            click.option(
                "--every",
                type=Count(1, why="1 records each iteration"),
                default=1,
                show_default=True,
                metavar="N",
                help="Record every Nth iteration (with --steps 20 --every 50: "
                "iterations 1, 51, 101, ...).",
            ),
            click.option(
                "--from",
                "start",
                type=Count(1, why="iterations count from 1"),
                default=1,
                show_default=True,
                metavar="K",
                help="The first iteration to record.",
            ),
            click.option(
                "--to",
                "stop",
                type=Count(1, why="iterations count from 1"),
                default=None,
                metavar="M",
                help="The last iteration that may be recorded (default: until --steps "
                "are recorded or the run ends).",
            ),
        ],
    )


def quiet_option(f: F) -> F:
    """``--quiet``/``-q``: no progress bar."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)


def files_options(default_png: str) -> Callable[[F], F]:
    """``--output`` (the figure), ``--dpi``, ``--json``, ``--csv``, ``--quiet``: the
    experiments'."""

    def deco(f: F) -> F:
        return _apply(
            f,
            [
                click.option(
                    "--output",
                    "-o",
                    metavar="PATH",
                    default=default_png,
                    show_default=True,
                    type=click.Path(dir_okay=False),
                    callback=figure_path,
                    help="Where to write the picture; its extension chooses the "
                    "format: .png, .pdf or .svg.",
                ),
                dpi_option,
                click.option(
                    "--json",
                    "json_path",
                    metavar="PATH",
                    type=click.Path(dir_okay=False, allow_dash=True),
                    callback=output_path,
                    help="Also write the numbers, verdicts included, as JSON to PATH "
                    "('-': print them on stdout instead of the tables).",
                ),
                click.option(
                    "--csv",
                    "csv_path",
                    metavar="PATH",
                    type=click.Path(dir_okay=False),
                    callback=output_path,
                    help="Also write the numbers as CSV to PATH.",
                ),
                quiet_option,
            ],
        )

    return deco
