"""Every option the commands share, with one set of ranges, and their parsers.

A command takes its options from here, so ``--epochs`` means the same (an integer, at
least 1) in ``train``, ``report``, ``sweep``, ``seeds``, ``surface`` and ``plot
boundary``, and a learning rate is a positive finite number everywhere. The choices
of ``--activation``, ``--init``, ``--loss``, ``--optimizer`` and ``--dtype`` are the
keys of the library's registries (``retroprop.ACTIVATIONS``, ``INITIALISERS``,
``LOSSES``, ``OPTIMIZERS``, the verify tolerances), read each time they are shown or
checked: an activation registered by the user's code is offered like a built-in one.
Commands that train offer only activations with a derivative (not the step).

Bad values fail here, before any work, as click usage errors: one line naming the
option, the value and what is allowed; ``retroprop.cli.main`` turns them into exit 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click

from retroprop.recipe import LECTURE

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
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(f"expected {self._range()}, got {value!r}", param, ctx)
        bad = not math.isfinite(v)
        if self.low is not None:
            bad = bad or (v <= self.low if self.low_open else v < self.low)
        if self.high is not None:
            bad = bad or (v >= self.high if self.high_open else v > self.high)
        if bad:
            self.fail(f"expected {self._range()}, got {value!r}", param, ctx)
        return v

    def get_metavar(
        self, param: click.Parameter, ctx: click.Context | None = None
    ) -> str:
        return "FLOAT"


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
            self.fail(f"{e.message.rstrip('.')}: {self.why}", param, ctx)


EPOCHS = Count(1, why="0 epochs make no update; give at least 1")
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
    return (
        f"{name!r} is not one of {offered}: it cannot be trained by backpropagation, "
        f"it has no usable derivative (see `retroprop plot activations`)"
    )


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
            f"expected a positive integer or 'full', got {value!r}"
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
            f"{what} must be comma-separated numbers like 0.01,0.1; got {text!r}"
        ) from None
    if not values:
        raise click.BadParameter(f"{what} needs at least one number, got {text!r}")
    bad = [v for v in values if not math.isfinite(v) or (positive and v <= 0)]
    if bad:
        kind = "positive finite numbers" if positive else "finite numbers"
        raise click.BadParameter(f"{what} must be {kind}; got {bad[0]!r} in {text!r}")
    return values


def parse_range(
    ctx: click.Context, param: click.Parameter, value: str
) -> tuple[float, float]:
    """``LOW,HIGH`` with ``LOW < HIGH``."""
    lo_hi = floats(value, "--range")
    if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1]:
        raise click.BadParameter(f"expected LOW,HIGH with LOW < HIGH, got {value!r}")
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


# -- option groups ------------------------------------------------------------------------


def _apply(f: F, options: Sequence[Callable[[Any], Any]]) -> F:
    for opt in reversed(options):  # listed in the order --help shows them
        f = opt(f)
    return f


def data_options(f: F) -> F:
    """``--data``, ``--target``, ``--test-size``: Iris by default, or the user's CSV."""
    return _apply(
        f,
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
                help="Activation of the hidden layers."
                + (
                    " 'step' shows the forward pass and where backpropagation stops."
                    if step
                    else ""
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


def quiet_option(f: F) -> F:
    """``--quiet``/``-q``: no progress bar."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)


def files_options(default_png: str) -> Callable[[F], F]:
    """``--output`` (the PNG), ``--json``, ``--csv``, ``--quiet``: the experiments'."""

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
                    callback=output_path,
                    help="Where to write the picture (PNG).",
                ),
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
