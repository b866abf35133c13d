"""``verify``: run the same SGD steps in retroprop and in PyTorch and compare every number.

Both start from the same weights (``to_torch`` copies them) and see the same samples
in the same order. After each step the loss and every gradient are compared; after
the last step, every parameter. This automates the lecture's exercise 4 ("PyTorch
uses exactly the same equations"), for every parameter instead of one bias.

A quantity passes when ``max |retroprop - torch| <= tolerance * max(1, scale)``,
``scale`` being the largest ``|torch value|`` of that quantity: an absolute tolerance
for values below 1, a relative one above.

After the steps each side is judged with ``rp.train``'s definition of divergence
(``retroprop.training.divergence``): a loss or parameter that became non-finite
stops the run at that step; a loss that grew far above where it started, or outputs
that no longer depend on the input (a dead network), count as diverging at the last
step. Both sides diverging at the same step is too large an eta, not a difference.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.engine.layers import Sequential
from retroprop.engine.losses import CrossEntropyLoss
from retroprop.engine.network import from_config
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DivergenceError, NotDifferentiableError, num
from retroprop.i18n import _
from retroprop.interop.torch_interop import import_torch, to_torch
from retroprop.training.checks import check_xy
from retroprop.training.divergence import chance_loss, describe, judge, output_spread
from retroprop.training.runner import epoch_order
from retroprop.training.step import TrainingStep, divergence_is_checked, loss_targets

DEFAULT_TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
"""dtype name -> default tolerance. The keys are the allowed ``dtype`` values."""


@dataclass
class Comparison:
    """One compared quantity (the loss, one gradient, one parameter).

    Attributes
    ----------
    kind : str
        ``"loss"``, ``"gradient"`` or ``"parameter"``.
    name : str
        ``"loss"`` or a parameter name such as ``"4.bias"``.
    values : int
        How many numbers were compared (over all steps).
    max_abs : float
        Largest ``|retroprop - torch|``.
    scale : float
        Largest ``|torch value|``.
    max_rel : float
        ``max_abs / scale`` (0 when both are 0).
    tolerance : float
    passed : bool
        ``max_abs <= tolerance * max(1, scale)``.
    """

    kind: str
    name: str
    values: int
    max_abs: float
    scale: float
    max_rel: float
    tolerance: float
    passed: bool


@dataclass
class VerifyResult:
    """What ``verify`` measured.

    ``passed`` is True when every comparison passed and both sides diverged at the
    same step or not at all. ``retroprop_diverged_at`` / ``torch_diverged_at``: the
    1-based step at which that side diverged (``rp.train``'s definition): the step
    whose loss or an updated parameter became non-finite (retroprop refuses such a
    step; the steps compared end before the first one of either side), or the last
    step when the loss grew or the network died; None if it did not.
    ``retroprop_divergence`` / ``torch_divergence``: the kind (one of
    ``training.divergence.KINDS``) and ``retroprop_divergence_what`` /
    ``torch_divergence_what`` what went wrong, as in ``DivergenceError.what``.
    """

    comparisons: list[Comparison]
    steps: int
    dtype: str
    tolerance: float
    lr: float
    batch_size: int
    momentum: float
    nesterov: bool
    weight_decay: float
    architecture: list[dict]
    torch_version: str
    losses: list[tuple[float, float]] = field(default_factory=list)  # (ours, torch)
    retroprop_diverged_at: int | None = None
    torch_diverged_at: int | None = None
    retroprop_divergence: str | None = None
    torch_divergence: str | None = None
    retroprop_divergence_what: str = ""
    torch_divergence_what: str = ""

    @property
    def passed(self) -> bool:
        return (
            all(c.passed for c in self.comparisons)
            and self.retroprop_diverged_at == self.torch_diverged_at
        )

    @property
    def both_diverged(self) -> bool:
        """Both sides diverged, at the same step."""
        return (
            self.retroprop_diverged_at is not None
            and self.retroprop_diverged_at == self.torch_diverged_at
        )

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passed"] = self.passed
        d["losses"] = [list(pair) for pair in self.losses]
        return d


class _Tracker:
    """Running max of ``|ours - theirs|`` and ``|theirs|`` for one quantity."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name
        self.max_abs = self.scale = 0.0
        self.values = 0

    def add(self, ours: np.ndarray, theirs: np.ndarray) -> None:
        ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
        self.max_abs = max(self.max_abs, float(np.max(np.abs(ours - theirs))))
        self.scale = max(self.scale, float(np.max(np.abs(theirs))))
        self.values += theirs.size

    def result(self, tolerance: float) -> Comparison:
        rel = (
            0.0
            if self.max_abs == 0
            else (self.max_abs / self.scale if self.scale > 0 else float("inf"))
        )
        return Comparison(
            self.kind,
            self.name,
            self.values,
            self.max_abs,
            self.scale,
            rel,
            tolerance,
            bool(self.max_abs <= tolerance * max(1.0, self.scale)),
        )


def with_dtype(net: Sequential, dtype: str) -> Sequential:
    """A copy of ``net`` whose parameters are ``dtype`` (float64 or float32)."""
    copy_ = from_config(net.config(), dtype=np.dtype(dtype))
    copy_.load_state_dict(net.state_dict())
    return copy_


def sample_order(
    n: int, steps: int, batch_size: int, seed: int | np.random.Generator | None
) -> list[np.ndarray]:
    """The batches of ``steps`` SGD steps: epochs of a fresh permutation each,
    cut into ``batch_size`` pieces (the last of an epoch may be smaller), as
    ``train`` draws them."""
    rng = as_generator(seed)
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        order = epoch_order(rng, n, shuffle=True)
        batches.extend(order[i : i + batch_size] for i in range(0, n, batch_size))
    return batches[:steps]


def verify(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    steps: int = 100,
    lr: float = 0.05,
    batch_size: int = 1,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    dtype: str = "float64",
    tolerance: float | None = None,
    seed: int | np.random.Generator | None = 0,
) -> VerifyResult:
    """Train copies of ``net`` in retroprop and in PyTorch side by side and compare.

    Parameters
    ----------
    net : Sequential
        The starting network (not modified); its outputs are logits.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer classes; the loss is cross-entropy on softmax (the lecture's).
    steps : int
        SGD steps (parameter updates) to run.
    lr, batch_size, momentum, nesterov, weight_decay
        ``torch.optim.SGD``'s settings, used by both sides.
    dtype : {"float64", "float32"}
        Both sides compute in this dtype.
    tolerance : float, optional
        Default ``DEFAULT_TOLERANCE[dtype]``.
    seed : int or Generator
        The sample order's randomness.

    Returns
    -------
    VerifyResult
        One ``Comparison`` for the loss, one per gradient (over all steps) and one per
        parameter (after the last step).

    Raises
    ------
    TorchNotInstalledError
        When PyTorch is missing (the message has the install command).
    """
    torch = import_torch()
    if dtype not in DEFAULT_TOLERANCE:
        raise ConfigError(
            f"dtype must be one of {sorted(DEFAULT_TOLERANCE)}, got {dtype!r}"
        )
    biggest = float(np.finfo(np.dtype(dtype)).max)
    for name, value in (
        ("lr", lr),
        ("momentum", momentum),
        ("weight_decay", weight_decay),
    ):
        if isinstance(value, (int, float)) and abs(value) > biggest:
            raise ConfigError(
                f"{name}={value:g} does not fit in {dtype} (largest {biggest:g}), "
                f"the dtype both sides compute in; use a smaller {name} or float64"
            )
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE[dtype]
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ConfigError(f"tolerance must be a positive number, got {tolerance!r}")
    if not all(getattr(m, "differentiable", True) for m in net):
        from retroprop.engine.activations import STEP_WHY

        raise NotDifferentiableError(
            _("cannot verify this network: {why}").format(why=_(STEP_WHY))
        )
    X, y = check_xy(X, y, net)
    if not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"y must hold integer classes, got dtype {y.dtype}")

    ours = with_dtype(net, dtype)
    theirs = to_torch(ours)
    X = X.astype(ours.dtype)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    settings = {
        "lr": lr,
        "momentum": momentum,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
    }
    opt = SGD(
        ours.parameters(),
        lr=lr,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
    )
    step = TrainingStep(ours, "cross_entropy", opt)
    opt_t = torch.optim.SGD(theirs.parameters(), **settings)
    loss_fn_t = torch.nn.CrossEntropyLoss()
    per_epoch = -(-len(X) // batch_size)

    names = [name for name, _p in ours.named_parameters()]
    loss_track = _Tracker("loss", "loss")
    grad_track = {name: _Tracker("gradient", name) for name in names}
    losses = []
    batches = sample_order(len(X), steps, batch_size, seed)
    diverged: tuple[int | None, int | None] = (None, None)
    # (kind, what) of each side's divergence, judged as rp.train judges a run
    kinds: list[tuple[str | None, str]] = [(None, ""), (None, "")]
    k_out = ours.out_features
    chance = chance_loss(y, k_out, "cross_entropy")
    with divergence_is_checked():
        initial_ours, _verdict = _judged_loss(ours(X), y)
    with torch.no_grad():
        initial_theirs = float(loss_fn_t(theirs(X_t), y_t).item())
    for k, idx in enumerate(batches, start=1):
        # retroprop: train's own step (forward, loss, backward, update); too large
        # an lr overflows, and the step refuses to update, as in train.
        try:
            loss = step(X[idx], y[idx], epoch=(k - 1) // per_epoch + 1, iteration=k)
            ours_ok = True
        except DivergenceError as err:
            ours_ok = False
            kinds[0] = ("non-finite", err.what)
        # PyTorch: the same step by autograd
        opt_t.zero_grad()
        loss_t = loss_fn_t(theirs(X_t[idx]), y_t[idx])
        loss_t.backward()
        grads_t = {
            name: p.grad.detach().numpy().copy()
            for name, p in theirs.named_parameters()
        }
        opt_t.step()
        theirs_ok = math.isfinite(loss_t.item()) and all(
            bool(torch.isfinite(p).all()) for p in theirs.parameters()
        )
        if not theirs_ok:
            kinds[1] = ("non-finite", f"the loss became {num(loss_t.item())}")
            if math.isfinite(loss_t.item()):
                kinds[1] = ("non-finite", "an updated parameter became non-finite")
        if not (ours_ok and theirs_ok):
            diverged = (None if ours_ok else k, None if theirs_ok else k)
            break

        loss_track.add(np.array(loss), np.array(loss_t.item()))
        losses.append((loss, float(loss_t.item())))
        for name, p in ours.named_parameters():  # the step keeps its gradients
            assert p.grad is not None  # every parameter has one after a step
            grad_track[name].add(p.grad, grads_t[name])

    completed = diverged == (None, None)
    if completed:  # no step overflowed: did a run grow, or die?
        with divergence_is_checked():
            final_ours, out_ours = _judged_loss(ours(X), y)
        with torch.no_grad():
            out_t = theirs(X_t)
            final_theirs = float(loss_fn_t(out_t, y_t).item())
        sides = (
            (initial_ours, final_ours, out_ours),
            (initial_theirs, final_theirs, out_t.numpy()),
        )
        for side, (initial, final, out) in enumerate(sides):
            kind = judge(
                initial, final, chance, output_spread(out, X, y, "cross_entropy")
            )
            if kind is not None:
                kinds[side] = (kind, describe(kind, initial, final, chance))
        last = len(batches)
        diverged = (
            None if kinds[0][0] is None else last,
            None if kinds[1][0] is None else last,
        )

    comparisons = []
    if losses:  # at least one step before a divergence
        comparisons.append(loss_track.result(tolerance))
        comparisons += [grad_track[name].result(tolerance) for name in names]
    if completed:
        params_t = {name: p.detach().numpy() for name, p in theirs.named_parameters()}
        for name, p in ours.named_parameters():
            track = _Tracker("parameter", name)
            track.add(p.data, params_t[name])
            comparisons.append(track.result(tolerance))
    return VerifyResult(
        comparisons=comparisons,
        steps=len(batches),
        dtype=dtype,
        tolerance=float(tolerance),
        lr=float(lr),
        batch_size=int(batch_size),
        momentum=float(momentum),
        nesterov=bool(nesterov),
        weight_decay=float(weight_decay),
        architecture=copy.deepcopy(ours.config()),
        torch_version=str(torch.__version__),
        losses=losses,
        retroprop_diverged_at=diverged[0],
        torch_diverged_at=diverged[1],
        retroprop_divergence=kinds[0][0],
        torch_divergence=kinds[1][0],
        retroprop_divergence_what=kinds[0][1],
        torch_divergence_what=kinds[1][1],
    )


def _judged_loss(out: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of the logits ``out`` on classes ``y`` (as
    ``rp.train`` measures it for its divergence check) and the logits."""
    value = CrossEntropyLoss()(
        out, loss_targets(y, out.shape[1], "cross_entropy", out.dtype)
    )
    return float(value), out
