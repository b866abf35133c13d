"""Loss functions on a network's output, each with its backward beside its forward.

Everything retroprop knows about a loss lives on its class: the loss and its
gradient (``forward``/``backward``), the lecture's chain-rule factors of the output
layer (``chain``, with each factor's formula in ``factors``), the per-sample loss
and its formula for people and for the spreadsheet, what the outputs mean
(probabilities or values) and how a prediction is read from them. The explain trace,
its views, the workbook and the report page read them here.

``LOSSES`` maps the names used by ``train``, the command line and the estimators to
the classes.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np

from retroprop.errors import ConfigError
from retroprop.i18n import N_, _

REDUCTIONS = ("mean", "sum")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``ln p_i = y_i - ln sum_j e^{y_j}`` by log-sum-exp: finite for any finite input.

    Shape ``(n, k) -> (n, k)``. Subtracting each row's maximum first means the largest
    exponent is ``e^0 = 1``, so nothing overflows and the sum is at least 1.
    """
    # When a row spans more than the float range (1e308 and -1e308) the subtraction
    # rounds to -inf: that class's p is 0 and its ln p is -inf, the correctly rounded
    # value; every other entry stays exact, so this is not an error.
    with np.errstate(over="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """``p_i = e^{y_i} / sum_j e^{y_j}``, shape ``(n, k) -> (n, k)``."""
    return np.exp(log_softmax(logits))


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ConfigError(
            _("reduction must be one of {REDUCTIONS}, got {reduction!r}").format(
                REDUCTIONS=list(REDUCTIONS), reduction=reduction
            )
        )
    return reduction


class Factor(NamedTuple):
    """One chain-rule factor of ``dL/dout_i``, with its formulas.

    ``spreadsheet`` is a cell formula (without ``=``) over the workbook's names:
    ``{out_i}`` (this output's cell), ``{out}`` (the sample's outputs as a range),
    ``{i}``, ``{k}``, the target (``{r}``, or ``{t_i}`` and ``{t}``) and the loss's
    ``sheet_rows`` by key (``{p_i}``, ``{p}``).
    """

    key: str
    text: str
    latex: str
    spreadsheet: str
    per_output: bool = True
    """False when the factor is one number per sample (``dL/dp_r``)."""


class SheetRow(NamedTuple):
    """An intermediate quantity the workbook computes before the factors
    (cross-entropy's softmax ``p_i``); same placeholders as ``Factor.spreadsheet``."""

    key: str
    label: str
    spreadsheet: str
    per_output: bool = True


class Loss:
    """What every loss provides (see ``CrossEntropyLoss`` and ``MSELoss``).

    Class attributes
    ----------------
    name : str
        The key in ``LOSSES``.
    title : str
        A heading for the loss's table ("Softmax and cross-entropy loss").
    text, latex, spreadsheet : str
        One sample's loss ``L`` (spreadsheet: a template as in ``Factor``).
    text_numbers, latex_numbers : str or None
        The right-hand side again with the trace's numbers in place
        (``"-ln({p_r})"``); None when ``L`` alone is shown.
    probabilities_name, probabilities_text, probabilities_latex : str or None
        How the outputs become probabilities (``"softmax"`` and its formula), when
        they do.
    product_latex : str or None
        The factors' product simplified (cross-entropy: ``p_i - delta_ri``), when
        there is more than one factor.
    factors : tuple of Factor
        The chain-rule factors of ``dL/dout_i`` for one sample, in the lecture's
        order; their product is ``dL/dout_i``.
    sheet_rows : tuple of SheetRow
        What the workbook computes before the factors.
    outputs : {"probabilities", "values"}
        What the output layer's numbers are compared as: ``"probabilities"`` when
        the loss turns them into ``p`` (softmax), ``"values"`` when it compares the
        outputs themselves with targets.
    prediction_text, prediction_latex : str
        How a predicted class is read from the outputs.
    target : {"class", "values"}
        What the loss compares with: a class ``r`` per sample or one value per
        output.
    kernel_code : int or None
        The code the compiled kernels switch on; None: NumPy engine only.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    text: ClassVar[str] = ""
    latex: ClassVar[str] = ""
    text_numbers: ClassVar[str | None] = None
    latex_numbers: ClassVar[str | None] = None
    probabilities_name: ClassVar[str | None] = None
    probabilities_text: ClassVar[str | None] = None
    probabilities_latex: ClassVar[str | None] = None
    product_latex: ClassVar[str | None] = None
    spreadsheet: ClassVar[str] = ""
    factors: ClassVar[tuple[Factor, ...]] = ()
    sheet_rows: ClassVar[tuple[SheetRow, ...]] = ()
    outputs: ClassVar[str] = "values"
    prediction_text: ClassVar[str] = "argmax_i out_i"
    prediction_latex: ClassVar[str] = r"\arg\max_i out_i"
    target: ClassVar[str] = "values"
    kernel_code: ClassVar[int | None] = None

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)

    def forward(self, out: np.ndarray, target: np.ndarray) -> float:  # pragma: no cover
        raise NotImplementedError

    def backward(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def per_sample(self, out: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Each sample's own loss ``L``, shape ``(n,)``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def chain(self, out: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        """``{factor key: values of shape (n, k)}`` for each sample's own loss, in
        the order of ``factors``; their product is ``dL/dout_i`` of that sample."""
        raise NotImplementedError  # pragma: no cover - abstract

    def probabilities(self, out: np.ndarray) -> np.ndarray | None:
        """What the loss reads the outputs as (softmax ``p``), or None for values."""
        return None

    def predict(self, out: np.ndarray) -> np.ndarray:
        """The predicted class of each sample, shape ``(n,)``: the largest output
        (for cross-entropy the same as the largest ``p``)."""
        return np.asarray(out).argmax(axis=1)

    @classmethod
    def describe(cls) -> dict:
        """The formulas as plain data (for the explain trace and the report page)."""
        return {
            "name": cls.name,
            "title": cls.title or cls.name,
            "text": cls.text,
            "latex": cls.latex,
            "text_numbers": cls.text_numbers,
            "latex_numbers": cls.latex_numbers,
            "probabilities_name": cls.probabilities_name,
            "probabilities_text": cls.probabilities_text,
            "probabilities_latex": cls.probabilities_latex,
            "product_latex": cls.product_latex,
            "outputs": cls.outputs,
            "target": cls.target,
            "prediction_text": cls.prediction_text,
            "prediction_latex": cls.prediction_latex,
            "spreadsheet": cls.spreadsheet,
            "factors": [f._asdict() for f in cls.factors],
            "sheet_rows": [r._asdict() for r in cls.sheet_rows],
        }


class CrossEntropyLoss(Loss):
    """Softmax followed by cross-entropy, on logits, like ``torch.nn.CrossEntropyLoss``.

    ``L = -ln p_r`` for each sample, ``r`` its true class; averaged over the batch
    (``reduction="mean"``, default) or summed (``"sum"``).
    """

    name = "cross_entropy"
    title = N_("Softmax and cross-entropy loss")
    text = "L = -ln(p_r)"
    latex = r"L = -\ln(p_r)"
    text_numbers = "-ln({p_r})"
    latex_numbers = r"-\ln({p_r})"
    probabilities_name = "softmax"
    probabilities_text = "p_i = e^out_i / Σ_j e^out_j"
    probabilities_latex = r"p_i = \frac{e^{out_i}}{\sum_j e^{out_j}}"
    product_latex = r"\frac{\partial L}{\partial out_i} = p_i - \delta_{ri}"
    spreadsheet = "-LN(INDEX({p},{r}+1))"  # p_r: the (r+1)-th of the p cells
    factors = (
        Factor(
            "dL/dp_r",
            "-1/p_r",
            r"\frac{\partial L}{\partial p_r} = -\frac{1}{p_r}",
            "-1/INDEX({p},{r}+1)",
            per_output=False,
        ),
        Factor(
            "dp_r/dout_i",
            "p_r (δ_ri - p_i)",
            r"\frac{\partial p_r}{\partial out_i} = p_r(\delta_{ri} - p_i)",
            "INDEX({p},{r}+1)*({delta_r_i}-{p_i})",
        ),
    )
    sheet_rows = (
        SheetRow(
            "p",
            N_("softmax p_i = e^out_i / sum_j e^out_j"),
            "EXP({out_i})/SUMPRODUCT(EXP({out}))",
        ),
        SheetRow("delta_r", N_("delta_ri (1 if i = r)"), "IF({r}={i},1,0)"),
    )
    outputs = "probabilities"
    prediction_text = "argmax_i p_i"
    prediction_latex = r"\arg\max_i p_i"
    target = "class"
    kernel_code = 0

    def forward(self, logits: np.ndarray, y: np.ndarray) -> float:
        """The loss as a Python float.

        Parameters
        ----------
        logits : ndarray of shape (n, k)
        y : ndarray of shape (n,)
            Integer classes in ``0..k-1``.
        """
        y = np.asarray(y)
        n, k = logits.shape
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(
                _(
                    "CrossEntropyLoss needs integer targets of shape ({n},), got {dtype} of "
                    "shape {shape}"
                ).format(n=n, dtype=y.dtype, shape=y.shape)
            )
        if n and (y.min() < 0 or y.max() >= k):
            raise ConfigError(
                _("targets must be classes 0..{value}, got {value2}..{value3}").format(
                    value=k - 1, value2=y.min(), value3=y.max()
                )
            )
        log_p = log_softmax(logits)
        self.p, self.y = np.exp(log_p), y
        losses = -log_p[np.arange(n), y]  # L = -ln p_r, one per sample
        return float(losses.mean() if self.reduction == "mean" else losses.sum())

    def backward(self) -> np.ndarray:
        """``dL/dy_i = p_i - delta_ri`` per sample (over ``n`` for the mean), ``(n, k)``.

        The lecture's chain ``dL/dp_r * dp_r/dy_i = (-1/p_r) * p_r (delta_ri - p_i)``
        simplifies to this.
        """
        delta = self.p.copy()
        n = delta.shape[0]
        delta[np.arange(n), self.y] -= 1.0
        if self.reduction == "mean":
            delta /= n
        return delta

    def per_sample(self, out: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``L = -ln p_r`` of each sample, shape ``(n,)``."""
        r = np.asarray(target)
        return -log_softmax(out)[np.arange(out.shape[0]), r]

    def chain(self, out: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        """The lecture's split of ``dL/dout_i = p_i - delta_ri``: ``dL/dp_r = -1/p_r``
        (one number per sample, repeated over ``i``) and ``dp_r/dout_i = p_r
        (delta_ri - p_i)``."""
        n = out.shape[0]
        r = np.asarray(target)
        p = softmax(out)
        p_r = p[np.arange(n), r][:, None]
        onehot = np.zeros_like(p)
        onehot[np.arange(n), r] = 1.0
        with np.errstate(divide="ignore", over="ignore"):  # -inf when p_r == 0
            dl_dp = np.broadcast_to(-1.0 / p_r, p.shape).copy()
        return {"dL/dp_r": dl_dp, "dp_r/dout_i": p_r * (onehot - p)}

    def probabilities(self, out: np.ndarray) -> np.ndarray:
        """``p = softmax(out)``, shape ``(n, k)``."""
        return softmax(out)


class MSELoss(Loss):
    """Mean squared error, like ``torch.nn.MSELoss``: ``mean((out - target)^2)``.

    ``reduction="mean"`` averages over every element (samples times outputs), as torch.
    One sample's loss is ``L = (1/k) sum_i (out_i - t_i)^2``, so ``dL/dout_i =
    2 (out_i - t_i) / k``.
    """

    name = "mse"
    title = N_("Mean squared error loss")
    text = "L = (1/k) Σ_i (out_i - t_i)²"
    latex = r"L = \frac{1}{k}\sum_i (out_i - t_i)^2"
    spreadsheet = "SUMXMY2({out},{t})/{k}"
    factors = (
        Factor(
            "dL/dout_i",
            "2 (out_i - t_i) / k",
            r"\frac{\partial L}{\partial out_i} = \frac{2}{k}(out_i - t_i)",
            "2*({out_i}-{t_i})/{k}",
        ),
    )
    outputs = "values"
    target = "values"
    kernel_code = 1

    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """The loss as a Python float.

        Parameters
        ----------
        out : ndarray of shape (n, k)
        target : ndarray of shape (n, k), or (n,) when ``k == 1``
        """
        target = np.asarray(target, dtype=out.dtype)
        if target.ndim == 1 and out.shape[1] == 1:
            target = target.reshape(-1, 1)
        if target.shape != out.shape:
            raise ConfigError(
                _("MSELoss target has shape {shape}, output has {shape2}").format(
                    shape=target.shape, shape2=out.shape
                )
            )
        self.diff = out - target
        sq = self.diff * self.diff
        return float(sq.mean() if self.reduction == "mean" else sq.sum())

    def backward(self) -> np.ndarray:
        """``dL/dout = 2 (out - target)``, over ``n * k`` for the mean; ``(n, k)``."""
        g = 2.0 * self.diff
        if self.reduction == "mean":
            g /= self.diff.size
        return g

    def per_sample(self, out: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``L = (1/k) sum_i (out_i - t_i)^2`` of each sample, shape ``(n,)``."""
        d = out - np.asarray(target, dtype=out.dtype).reshape(out.shape)
        return (d * d).mean(axis=1)

    def chain(self, out: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
        """``dL/dout_i = 2 (out_i - t_i) / k`` of each sample's own loss."""
        d = out - np.asarray(target, dtype=out.dtype).reshape(out.shape)
        return {"dL/dout_i": 2.0 * d / out.shape[1]}


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (CrossEntropyLoss, MSELoss)}
"""Loss name -> class. The keys are the allowed ``loss=`` values."""

BUILTIN_LOSSES = tuple(LOSSES)


def register_loss(cls: type[Loss]) -> type[Loss]:
    """Add a ``Loss`` subclass to ``LOSSES`` under its ``name`` (NumPy engine; the
    explain views read its ``factors`` and ``chain``). Returns ``cls``.

    Raises ``ConfigError`` when ``cls`` is not a Loss subclass with a new identifier
    as ``name``, or lacks ``forward``, ``backward``, ``per_sample`` or ``chain``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise ConfigError(
            _("register_loss takes a subclass of retroprop.Loss, got {cls!r}").format(
                cls=cls
            )
        )
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            _(
                "{name}.name must be a Python identifier such as 'huber', got {name2!r}; "
                "set it as a class attribute"
            ).format(name=cls.__name__, name2=name)
        )
    if name in LOSSES:
        raise ConfigError(
            _(
                "loss {name!r} is already registered ({name2}); choose another name"
            ).format(name=name, name2=LOSSES[name].__name__)
        )
    for what in ("forward", "backward", "per_sample", "chain"):
        if getattr(cls, what) is getattr(Loss, what):
            raise ConfigError(
                _("{name} must define {what}()").format(name=cls.__name__, what=what)
            )
    if cls.__dict__.get("kernel_code") is not None:
        raise ConfigError(
            _(
                "{name}.kernel_code must stay None: the compiled kernels know only the "
                "built-in losses"
            ).format(name=cls.__name__)
        )
    LOSSES[name] = cls
    return cls


def unregister_loss(name: str) -> None:
    """Remove a registered loss (built-ins stay): for tests and notebooks."""
    if name in BUILTIN_LOSSES:
        raise ConfigError(
            _("{name!r} is built in and cannot be unregistered").format(name=name)
        )
    LOSSES.pop(name, None)
