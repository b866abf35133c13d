"""Matplotlib figures from experiment results: each function draws one figure.

The functions take a result object (``retroprop.experiments``) or a ``History``, draw
with matplotlib's object API on a headless canvas (no pyplot, no global state, no
screen needed) and never recompute the numbers they draw. Without a path they return
the ``matplotlib.figure.Figure`` (a notebook shows it inline); with a path they write
the file atomically, in the format its extension names (``FORMATS``: ``.png``,
``.pdf``, ``.svg``), and return the path. matplotlib is imported inside each function,
so ``import retroprop`` stays light; ``require_matplotlib`` says which extra to
install. Sizes are in inches at ``dpi`` dots per inch (default ``DPI``); ``SIZES``
holds each figure's default, so a PNG of kind ``k`` is ``SIZES[k] * dpi`` pixels.
"""

from __future__ import annotations

import functools
import io
import numbers
import os
from typing import Any

import numpy as np

from retroprop.atomic import write_bytes
from retroprop.errors import ConfigError
from retroprop.i18n import N_, _, language

DPI = 100
"""Default dots per inch: of the PNG written, and of the figure shown in a notebook."""
DPI_RANGE = (30, 1200)
"""The dpi accepted (inclusive): below 30 a figure is unreadable, above 1200 a PNG of
the largest figure passes 200 megapixels."""
FORMATS: dict[str, str] = {
    ".png": "png",
    ".pdf": "pdf",
    ".svg": "svg",
}
"""File extension -> the format written (matplotlib's name for it)."""
# No date in the file: the same figure gives the same bytes (PDF and SVG).
_METADATA: dict[str, dict[str, Any]] = {
    "png": {},
    "pdf": {"CreationDate": None},
    "svg": {"Date": None},
}
SIZES: dict[str, tuple[float, float]] = {
    "activations": (11.0, 7.0),
    "descent": (13.0, 7.5),
    "boundary": (8.0, 6.5),
    "surface": (13.0, 5.5),
    "sweep": (13.0, 5.5),
    "grid": (13.0, 5.5),
    "seeds": (12.0, 8.5),
    "history": (11.0, 4.5),
}
"""Figure kind -> (width, height) in inches."""

CLASS_COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def figure_format(path: str | os.PathLike) -> str:
    """The format a figure path asks for, by its extension: ``"png"``, ``"pdf"`` or
    ``"svg"`` (any case).

    Raises
    ------
    ConfigError
        For any other extension, naming the ones accepted.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise ConfigError(
            _(
                "cannot write a figure to {path!r}: its extension is {ext}; end the "
                "file name in {formats}"
            ).format(
                path=os.fspath(path),
                ext=ext or _("missing"),
                formats=", ".join(FORMATS),
            )
        )
    return FORMATS[ext]


def check_dpi(dpi: float) -> int:
    """``dpi`` as an int inside ``DPI_RANGE``, or a ConfigError naming the range."""
    lo, hi = DPI_RANGE
    ok = isinstance(dpi, numbers.Real) and not isinstance(dpi, bool)
    if not ok or not lo <= dpi <= hi:
        raise ConfigError(
            _("dpi must be a number from {lo} to {hi}, got {dpi!r}").format(
                lo=lo, hi=hi, dpi=dpi
            )
        )
    return round(float(dpi))


def require_matplotlib() -> None:
    """Raise a ConfigError naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            _(
                "drawing figures needs matplotlib, which is not installed; install the "
                "plotting extra: pip install 'retroprop[plots]'"
            )
        ) from None


@functools.cache
def _figure_class() -> Any:
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        """A matplotlib Figure that Jupyter and Colab show inline as a PNG, even
        when pyplot (which registers matplotlib's own display) was never imported."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=self.dpi)
            return buf.getvalue()

    return NotebookFigure


def _figure(kind: str, size: tuple[float, float] | None = None, dpi: float = DPI):
    require_matplotlib()
    return _figure_class()(
        figsize=size or SIZES[kind], dpi=check_dpi(dpi), layout="constrained"
    )


def _decimal_comma(fig: Any) -> None:
    """In Portuguese, the tick labels of the linear axes with the decimal comma."""
    if language() != "pt":
        return
    from matplotlib.ticker import ScalarFormatter

    class CommaFormatter(ScalarFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            text = super().__call__(x, pos)
            # in mathtext a bare comma is punctuation (a space after it): {,}
            return text.replace(".", "{,}" if text.startswith("$") else ",")

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(CommaFormatter())


def _save(fig, path: str | os.PathLike | None) -> Any:
    """``fig`` itself when ``path`` is None; else render it in the format of the
    path's extension at the figure's dpi into memory, write it atomically and return
    the path."""
    _decimal_comma(fig)
    if path is None:
        return fig
    fmt = figure_format(path)
    buf = io.BytesIO()
    from matplotlib import rc_context

    # a fixed salt for the SVG's element ids: the same figure gives the same bytes
    with rc_context({"svg.hashsalt": "retroprop"}):
        fig.savefig(buf, format=fmt, dpi=fig.dpi, metadata=_METADATA[fmt])
    write_bytes(path, buf.getvalue())
    return os.fspath(path)


def plot_activations(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """Each activation and its derivative, one panel each; the step's jump marked.

    Parameters
    ----------
    result : retroprop.experiments.ActivationCurves
    path : str or PathLike or None
        Where to write the figure (``.png``, ``.pdf`` or ``.svg``); None returns the
        Figure instead.
    size : (width, height) in inches, or None for ``SIZES["activations"]``.
    dpi : number in ``DPI_RANGE``
        Dots per inch of the figure (and of the PNG).

    Returns
    -------
    matplotlib.figure.Figure when ``path`` is None, else the path written.
    """
    fig = _figure("activations", size, dpi)
    names = result.names
    cols = 2 if len(names) > 1 else 1
    rows = int(np.ceil(len(names) / cols))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    x = result.x
    for ax, name in zip(axes, names):
        f, d = result.values[name], result.derivatives[name]
        jumps = result.jumps.get(name, [])
        if jumps:
            # draw each flat piece separately so no vertical line fakes continuity
            for lo, hi in zip([x[0], *jumps], [*jumps, x[-1]]):
                m = (x >= lo) & (x < hi) if hi != x[-1] else (x >= lo) & (x <= hi)
                ax.plot(
                    x[m],
                    f[m],
                    color="C0",
                    lw=2.2,
                    label=f"{name}(z)" if lo == x[0] else None,
                )
            ax.plot(x, d, color="C3", lw=2, ls="--", label=f"{name}'(z) = 0 (z != 0)")
            for j in jumps:
                ax.axvline(j, color="0.4", ls=":", lw=1)
                ax.plot([j], [1.0], "o", color="C0", ms=7)
                ax.plot([j], [0.0], "o", mfc="white", color="C0", ms=7)
                ax.annotate(
                    "jump: no derivative at 0,\nzero gradient everywhere else",
                    xy=(j, 0.5),
                    xytext=(0.04, 0.6),
                    textcoords="axes fraction",
                    fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": "0.3"},
                )
        else:
            ax.plot(x, f, color="C0", lw=2.2, label=f"{name}(z)")
            ax.plot(x, d, color="C3", lw=2, ls="--", label=f"{name}'(z)")
        ax.axhline(0, color="0.75", lw=0.8, zorder=0)
        ax.set_title(name)
        ax.set_xlabel("z")
        ax.set_ylabel("f(z), f'(z)")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Activation functions and their derivatives on "
        f"[{x[0]:g}, {x[-1]:g}]: backpropagation multiplies by f'(z)"
    )
    return _save(fig, path)


_STATUS_TEXT = {
    "converged": N_("converged"),
    "not converged": N_("not converged (crawling)"),
    "oscillating": N_("oscillating"),
    "diverged": N_("diverged"),
}


def plot_descent(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """One panel per (start, eta): the curve, the tangent at each step, the path.

    Parameters
    ----------
    result : retroprop.experiments.DescentDemo
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    """
    fig = _figure("descent", size, dpi)
    rows, cols = len(result.starts), len(result.lrs)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    x, fx = result.x, result.f
    finite = fx[np.isfinite(fx)]
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.08 * (hi - lo or 1.0)
    sx, sy = x[-1] - x[0], (hi - lo) + 2 * pad
    for k, run in enumerate(result.runs):
        ax = axes[k // cols][k % cols]
        ax.plot(x, fx, color="0.25", lw=1.8, label="L(w)")
        for m_i, m in enumerate(result.minima):
            is_global = m_i == result.global_minimum
            ax.plot(
                [m],
                [np.interp(m, x, fx)],
                marker="*" if is_global else "v",
                ms=11 if is_global else 8,
                color="gold" if is_global else "C2",
                mec="k",
                ls="none",
                zorder=5,
                label=_("global minimum") if is_global else _("local minimum"),
            )
        for xk, fk, gk in zip(run.x, run.f, run.grad):
            # the same drawn length (5 % of the panel) whatever the slope
            half = 0.05 / np.hypot(1 / sx, gk / sy)
            t = np.array([xk - half, xk + half])
            ax.plot(t, fk + gk * (t - xk), color="C1", lw=1, alpha=0.7)
        ax.plot([], [], color="C1", lw=1, label=_("tangent, slope dL/dw"))
        ax.plot(run.x, run.f, "-o", color="C0", ms=3.5, lw=1, label=_("path w_k"))
        ax.plot(run.x[:1], run.f[:1], "s", color="C3", ms=7, label=_("start"))
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(lo - pad, hi + pad)
        status = _(_STATUS_TEXT[run.status])
        if run.minimum is not None:
            status += ", global min." if run.reached_global else ", LOCAL min."
        ax.set_title(f"$\\eta$ = {run.lr:g}, $w_0$ = {run.x0:g}: {status}", fontsize=10)
        ax.grid(alpha=0.3)
        if k // cols == rows - 1:
            ax.set_xlabel("w")
        if k % cols == 0:
            ax.set_ylabel("L(w)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9
    )
    fig.suptitle(
        f"Gradient descent $w \\leftarrow w - \\eta\\, dL/dw$ on "
        f"L(w) = {result.function_in_w}, {result.steps} steps"
    )
    return _save(fig, path)


def plot_boundary(
    result,
    path: str | os.PathLike | None = None,
    *,
    size=None,
    dpi: float = DPI,
    title: str | None = None,
) -> Any:
    """Decision regions on two features with the data points.

    Parameters
    ----------
    result : retroprop.experiments.DecisionBoundary
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    title : str or None
    """
    from matplotlib.colors import ListedColormap

    fig = _figure("boundary", size, dpi)
    ax = fig.subplots()
    k = len(result.class_names)
    colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(k)]
    cmap = ListedColormap(colors)
    ax.pcolormesh(
        result.grid_x,
        result.grid_y,
        result.predictions,
        cmap=cmap,
        vmin=-0.5,
        vmax=k - 0.5,
        alpha=0.25,
        shading="auto",
    )
    ax.contour(
        result.grid_x,
        result.grid_y,
        result.predictions,
        levels=np.arange(k) + 0.5,
        colors="0.3",
        linewidths=1,
    )
    for c in range(k):
        m = result.labels == c
        ax.scatter(
            result.points[m, 0],
            result.points[m, 1],
            s=28,
            color=colors[c],
            edgecolor="k",
            linewidth=0.6,
            label=result.class_names[c],
        )
    ax.set_xlabel(result.feature_names[0])
    ax.set_ylabel(result.feature_names[1])
    ax.legend(title=_("class (points: data)"), fontsize=9, loc="best")
    ax.set_title(
        title
        or "Decision regions of the trained network (other features at their mean)"
    )
    return _save(fig, path)


def plot_surface(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """Left: the loss on the line between two trained networks; right: the plane.

    Parameters
    ----------
    result : retroprop.experiments.SurfaceResult
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    """
    from matplotlib.colors import LogNorm

    fig = _figure("surface", size, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    s1, s2 = result.seeds
    for line, label, style in (
        (result.line, "as trained", "-o"),
        (result.aligned_line, "hidden neurons aligned", "-s"),
    ):
        ax1.plot(
            line.alpha,
            line.loss,
            style,
            ms=3.5,
            label=f"{label} (barrier {line.barrier:.3g})",
        )
    ax1.set_xlabel(f"$\\alpha$  (0: network of seed {s1}, 1: network of seed {s2})")
    ax1.set_ylabel(_("L  (training loss)"))
    ax1.set_title(_("Loss on $(1-\\alpha)\\,w_a + \\alpha\\, w_b$"))
    ax1.legend(fontsize=9)
    ax1.grid(alpha=0.3)
    p = result.plane
    L = np.where(np.isfinite(p.loss), p.loss, np.nan)
    lo, hi = np.nanmin(L), np.nanmax(L)
    levels = np.geomspace(max(lo, 1e-12), hi, 25) if hi > lo else 10
    cs = ax2.contourf(p.a, p.b, L, levels=levels, norm=LogNorm(), cmap="viridis")
    ax2.contour(p.a, p.b, L, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
    ax2.plot(
        [0],
        [0],
        "*",
        color="red",
        mec="white",
        ms=16,
        label=f"trained $w_a$ (L = {p.center_loss:.3g})",
    )
    fig.colorbar(cs, ax=ax2, label=_("L  (training loss, log scale)"), format="%.2g")
    ax2.set_xlabel(_("a  (along filter-normalised direction $d_1$)"))
    ax2.set_ylabel(_("b  (along $d_2$)"))
    ax2.set_title(_("Loss on $w_a + a\\,d_1 + b\\,d_2$"))
    ax2.legend(loc="upper right", fontsize=9)
    fig.suptitle(_("The loss surface around trained networks"))
    return _save(fig, path)


def plot_sweep(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """Left: loss per epoch for each eta (seeds as thin lines); right: accuracy vs eta.

    Parameters
    ----------
    result : retroprop.experiments.SweepResult
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    """
    fig = _figure("sweep", size, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    epochs = np.arange(1, result.loss.shape[2] + 1)
    for i, lr in enumerate(result.lrs):
        color = f"C{i % 10}"
        for j in range(len(result.seeds)):
            curve = result.loss[i, j]
            bad = result.diverged[i, j]
            ax1.plot(
                epochs,
                curve,
                color=color,
                lw=1.4,
                alpha=0.8,
                ls="--" if bad else "-",
                label=(
                    f"$\\eta$ = {lr:g}"
                    + (" (diverged)" if result.diverged[i].any() else "")
                )
                if j == 0
                else None,
            )
            finite = np.flatnonzero(np.isfinite(curve))
            if bad and len(finite):
                ax1.plot(
                    epochs[finite[-1]], curve[finite[-1]], "x", color=color, ms=9, mew=2
                )
    ax1.set_yscale("log")
    ax1.set_xlabel(_("epoch"))
    ax1.set_ylabel(_("L  (training loss, log scale)"))
    ax1.set_title(_("Training loss per epoch (dashed, x: diverged)"))
    ax1.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax1.grid(alpha=0.3, which="both")
    lrs = np.asarray(result.lrs)
    acc = result.final_accuracy
    ok = ~result.diverged
    for j in range(len(result.seeds)):
        ax2.scatter(
            lrs[ok[:, j]],
            acc[ok[:, j], j],
            color="C0",
            s=30,
            alpha=0.7,
            label=_("run") if j == 0 else None,
        )
        bad = result.diverged[:, j]
        ax2.scatter(
            lrs[bad],
            np.nan_to_num(acc[bad, j], nan=0.0),
            color="C3",
            marker="x",
            s=60,
            label=_("diverged run") if j == 0 else None,
        )
    with np.errstate(invalid="ignore"):
        mean = np.array(
            [
                np.nanmean(np.where(ok[i], acc[i], np.nan)) if ok[i].any() else np.nan
                for i in range(len(lrs))
            ]
        )
    ax2.plot(lrs, mean, "-", color="C0", lw=1.5, label=_("mean of converging runs"))
    ax2.set_xscale("log")
    ax2.set_ylim(-0.03, 1.03)
    ax2.set_xlabel(_("$\\eta$  (learning rate, log scale)"))
    ax2.set_ylabel(_("final training accuracy"))
    ax2.set_title(f"Accuracy after {result.loss.shape[2]} epochs")
    ax2.legend(fontsize=9, loc="lower left")
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(
        f"How $\\eta$ influences the minimisation "
        f"({len(result.seeds)} seeds per $\\eta$)"
    )
    return _save(fig, path)


def plot_grid(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """Two heatmaps over (hidden shape, eta): mean test accuracy (mean final training
    accuracy without test data) and mean final loss; a cell with a diverged run is
    hatched and says how many.

    Parameters
    ----------
    result : retroprop.experiments.GridResult
    path : str or PathLike, or None
        Where to write the figure (.png, .pdf, .svg); None returns the Figure.
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    """
    fig = _figure("grid", size, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    acc = result.mean_test_accuracy
    acc_name = "mean test accuracy"
    if acc is None:
        acc = result.mean_final_accuracy
        acc_name = "mean final training accuracy"
    rows = [",".join(map(str, h)) or "none" for h in result.hidden]
    cols = [f"{lr:g}" for lr in result.lrs]
    for ax, values, name, cmap, fmt, log in (
        (ax1, acc, acc_name, "viridis", ".3f", False),
        (
            ax2,
            result.mean_final_loss,
            "mean final training loss",
            "magma_r",
            ".4f",
            True,
        ),
    ):
        grid = np.asarray(values, dtype=float).T  # rows: hidden shapes, columns: eta
        finite = grid[np.isfinite(grid)]
        norm = None
        if log and finite.size and finite.min() > 0:
            from matplotlib.colors import LogNorm

            norm = LogNorm()  # a diverged cell's loss would wash out the others
            name += " (log colour scale)"
        image = ax.imshow(
            np.ma.masked_invalid(grid), cmap=cmap, aspect="auto", norm=norm
        )
        fig.colorbar(image, ax=ax, shrink=0.85)
        for h in range(grid.shape[0]):
            for i in range(grid.shape[1]):
                bad = int(result.n_diverged[i, h])
                text = "NaN" if not np.isfinite(grid[h, i]) else f"{grid[h, i]:{fmt}}"
                if bad:
                    text += f"\n{bad}/{len(result.seeds)} diverged"
                    ax.add_patch(
                        _hatch(i, h, fill=False, hatch="//", edgecolor="C3", lw=1.5)
                    )
                ax.text(
                    i,
                    h,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white",
                    bbox={"facecolor": "black", "alpha": 0.35, "lw": 0, "pad": 1.5},
                )
        ax.set_xticks(range(len(cols)), cols)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("$\\eta$  (learning rate)")
        ax.set_ylabel("hidden layer sizes")
        ax.set_title(name)
    fig.suptitle(
        f"Grid: {len(result.lrs)} $\\eta$ x {len(result.hidden)} shapes, "
        f"{len(result.seeds)} seeds per cell, {result.loss.shape[-1]} epochs"
    )
    return _save(fig, path)


def _hatch(i: int, h: int, **style):
    from matplotlib.patches import Rectangle

    return Rectangle((i - 0.5, h - 0.5), 1.0, 1.0, **style)


def plot_seeds(
    result, path: str | os.PathLike | None = None, *, size=None, dpi: float = DPI
) -> Any:
    """Spread of final loss and accuracy, and parameter distances before/after alignment.

    Parameters
    ----------
    result : retroprop.experiments.SeedsResult
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    """
    fig = _figure("seeds", size, dpi)
    (a1, a2), (a3, a4) = fig.subplots(2, 2)
    ok = ~result.diverged
    loss = result.final_loss[ok]
    a1.hist(loss, bins=30, color="C0", edgecolor="k", lw=0.5)
    a1.axvline(
        result.best_loss + result.worse_by,
        color="C3",
        ls="--",
        label=f"best + {result.worse_by:g}: beyond is clearly worse",
    )
    a1.set_xlabel(_("final L  (training loss)"))
    a1.set_ylabel(_("runs"))
    a1.set_title(f"Final loss of {ok.sum()} runs: {result.n_worse} clearly worse")
    if len(loss):
        a1.set_xlim(
            min(loss.min(), result.best_loss) - 0.1 * result.worse_by,
            max(loss.max(), result.best_loss + result.worse_by) + 0.1 * result.worse_by,
        )
    a1.legend(fontsize=9)
    acc = result.final_accuracy[ok]
    bins = np.linspace(acc.min() - 0.005, acc.max() + 0.005, 21) if len(acc) else 10
    a2.hist(acc, bins=bins, color="C2", edgecolor="k", lw=0.5)
    a2.set_xlabel(_("final training accuracy"))
    a2.set_ylabel(_("runs"))
    a2.set_title(_("Final accuracy"))
    iu = np.triu_indices(len(result.seeds), 1)
    raw = result.raw_distance[iu]
    ali = result.aligned_distance[iu]
    raw, ali = raw[np.isfinite(raw)], ali[np.isfinite(ali)]  # diverged runs left out
    bins = np.linspace(0, max(raw.max(), ali.max(), 1e-12), 40) if len(raw) else 10
    a3.hist(raw, bins=bins, alpha=0.6, color="C1", label=_("as trained"))
    a3.hist(ali, bins=bins, alpha=0.6, color="C4", label=_("hidden neurons aligned"))
    a3.set_xlabel(_("distance $\\|w_i - w_j\\|$ between two runs' parameters"))
    a3.set_ylabel(_("pairs of runs"))
    a3.set_title(_("Pairwise parameter distances"))
    a3.legend(fontsize=9)
    # each run's closest other run, relative to the size of the two weight vectors
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = result.aligned_distance / (
            0.5 * (result.norms[:, None] + result.norms[None, :])
        )
    np.fill_diagonal(rel, np.nan)
    nearest = np.array([np.nanmin(r[ok]) for r in rel[ok]] if ok.sum() > 1 else [])
    a4.hist(nearest, bins=25, color="C4", edgecolor="k", lw=0.5)
    a4.axvline(
        result.tolerance,
        color="C3",
        ls="--",
        label=f"tolerance {result.tolerance:g}: closer is the same minimum",
    )
    a4.set_xlim(left=0)
    a4.set_xlabel(r"aligned distance to the nearest other run / $\|w\|$")
    a4.set_ylabel(_("runs"))
    a4.set_title(f"{result.n_minima} distinct minima among {ok.sum()} runs")
    a4.legend(fontsize=9)
    from matplotlib.ticker import MaxNLocator

    for ax in (a1, a2, a3, a4):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of runs
    fig.suptitle(
        f"Same network, same data, {len(result.seeds)} random "
        f"initialisations: do they reach the same minimum?"
    )
    return _save(fig, path)


def plot_history(
    history,
    path: str | os.PathLike | None = None,
    *,
    size=None,
    dpi: float = DPI,
    title: str | None = None,
    val_label: str = N_("validation"),
) -> Any:
    """Loss and accuracy per epoch of one training run.

    Parameters
    ----------
    history : retroprop.History
    path : str or PathLike or None (return the Figure)
    size : (width, height) in inches, or None
    dpi : number in ``DPI_RANGE``
    title : str or None
    val_label : str
        Legend of the ``val_*`` curves, when the History has them.
    """
    fig = _figure("history", size, dpi)
    ax1, ax2 = fig.subplots(1, 2)
    epochs = np.arange(1, history.epochs + 1)
    ax1.plot(epochs, history.loss, "-", color="C0", lw=2, label=_("training"))
    ax2.plot(epochs, history.accuracy, "-", color="C0", lw=2, label=_("training"))
    if history.val_loss:
        ax1.plot(
            epochs[: len(history.val_loss)],
            history.val_loss,
            "-",
            color="C1",
            lw=2,
            label=_(val_label),
        )
        ax2.plot(
            epochs[: len(history.val_accuracy)],
            history.val_accuracy,
            "-",
            color="C1",
            lw=2,
            label=_(val_label),
        )
    ax1.set_xlabel(_("epoch"))
    ax1.set_ylabel(_("L  (mean loss per sample)"))
    ax1.set_title(_("Loss"))
    ax2.set_xlabel(_("epoch"))
    ax2.set_ylabel(_("accuracy"))
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title(_("Accuracy"))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(title or _("Training"))
    return _save(fig, path)
