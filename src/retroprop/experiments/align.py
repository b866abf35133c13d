"""Hidden neurons can swap places: aligning two networks before comparing them.

Permuting the neurons of a hidden layer (the rows of its ``W`` and ``b``, and the
matching columns of the next layer's ``W``) leaves the network the same function.
Two trainings can therefore reach the same minimum with their neurons in a different
order, and their parameter vectors then look far apart. ``align`` undoes that: layer
by layer, from the input side, it matches each neuron of one network to a neuron of
the reference with an optimal assignment (``scipy.optimize.linear_sum_assignment``)
on the distance between their incoming weights and bias, and reorders; then it
refines, matching on incoming and outgoing weights together ("weight matching").
For sigmoid and tanh a neuron may also change sign (``flip_hidden``).

Parameters here are plain ``{name: array}`` dicts in the engine's names
(``net.state_dict()``).
"""

from __future__ import annotations

import numpy as np

from retroprop.engine.layers import Linear, Sequential
from retroprop.i18n import _


def linear_names(net: Sequential) -> list[tuple[str, str | None]]:
    """``[(weight name, bias name or None), ...]`` of the Linear layers, in order."""
    out = []
    for i, m in enumerate(net):
        if isinstance(m, Linear):
            out.append(
                (
                    net.parameter_name(i, "weight"),
                    net.parameter_name(i, "bias") if m.bias is not None else None,
                )
            )
    return out


def permute_hidden(
    params: dict[str, np.ndarray],
    layers: list[tuple[str, str | None]],
    layer: int,
    perm: np.ndarray,
) -> dict[str, np.ndarray]:
    """Reorder the neurons of hidden layer ``layer``: new neuron i is old ``perm[i]``.

    Returns a new dict; the network it describes computes the same function.
    """
    out = {k: v.copy() for k, v in params.items()}
    w, b = layers[layer]
    w_next, _ = layers[layer + 1]
    out[w] = out[w][perm]
    if b is not None:
        out[b] = out[b][perm]
    out[w_next] = out[w_next][:, perm]  # the next layer reads the neurons in new order
    return out


def flip_hidden(
    params: dict[str, np.ndarray],
    layers: list[tuple[str, str | None]],
    layer: int,
    flip: np.ndarray,
    activation: str,
) -> dict[str, np.ndarray]:
    """Negate the hidden neurons ``flip`` (bool, one per neuron) without changing f.

    For tanh, ``tanh(-z) = -tanh(z)``: negate the neuron's incoming weights and bias
    and its outgoing weights. For the sigmoid, ``sigmoid(-z) = 1 - sigmoid(z)``: the
    same, and the next layer's bias gains the old outgoing weights,
    ``b' <- b' + W'[:, j]``, so that ``W'[:, j] a_j + b'`` is unchanged.
    """
    if activation not in SIGN_SYMMETRIC:
        raise ValueError(
            _("{activation!r} has no sign symmetry").format(activation=activation)
        )
    out = {k: v.copy() for k, v in params.items()}
    w, b = layers[layer]
    w_next, b_next = layers[layer + 1]
    out[w][flip] *= -1
    if b is not None:
        out[b][flip] *= -1
    if activation == "sigmoid" and b_next is not None:
        out[b_next] += params[w_next][:, flip].sum(axis=1)
    out[w_next][:, flip] *= -1
    return out


SIGN_SYMMETRIC = ("sigmoid", "tanh")
"""Activations with f(-z) an affine function of f(z): a neuron can change sign."""


def align(
    reference: dict[str, np.ndarray],
    params: dict[str, np.ndarray],
    layers: list[tuple[str, str | None]],
    activation: str | None = None,
    *,
    refine: int = 5,
) -> dict[str, np.ndarray]:
    """``params`` with its hidden neurons reordered to match ``reference``'s.

    First pass, from the input side: each hidden layer's neurons are matched on their
    incoming weights and bias. Then up to ``refine`` sweeps re-match every hidden
    layer on incoming weights, bias and outgoing weights together (the neighbours are
    aligned by then), keeping a change only when it lowers the distance to
    ``reference``.

    Parameters
    ----------
    reference, params : dict of str -> ndarray
        Two parameter sets of the same architecture.
    layers : list of (str, str or None)
        ``linear_names(net)``.
    activation : str or None
        The hidden activation. For "sigmoid" and "tanh" each neuron may also be
        matched with its sign flipped (``flip_hidden``), the other symmetry of those
        networks; None or another activation: permutations only.
    refine : int
        Refinement sweeps (0: the first pass only).

    Returns
    -------
    dict of str -> ndarray
        The same function as ``params``; a permuted (and, where allowed, sign-flipped)
        copy of ``reference`` comes back equal to ``reference``.
    """
    out = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    for layer in range(len(layers) - 1):  # every Linear but the output one is hidden
        out = _match(reference, out, layers, layer, activation, outgoing=False)
    best = distance(reference, out)
    for _round in range(refine):
        improved = False
        for layer in range(len(layers) - 1):
            cand = _match(reference, out, layers, layer, activation, outgoing=True)
            d = distance(reference, cand)
            if d < best - 1e-12:
                out, best, improved = cand, d, True
        if not improved:
            break
    return out


def _match(
    reference: dict[str, np.ndarray],
    params: dict[str, np.ndarray],
    layers: list[tuple[str, str | None]],
    layer: int,
    activation: str | None,
    outgoing: bool,
) -> dict[str, np.ndarray]:
    """Reorder (and flip) hidden layer ``layer`` of ``params`` by optimal assignment."""
    from scipy.optimize import linear_sum_assignment

    w, b = layers[layer]
    w_next = layers[layer + 1][0] if outgoing else None
    ref, cand = _neurons(reference, w, b, w_next), _neurons(params, w, b, w_next)
    cost = ((ref[:, None, :] - cand[None, :, :]) ** 2).sum(axis=2)
    flipped = np.zeros_like(cost, dtype=bool)
    if activation in SIGN_SYMMETRIC:
        # a flipped neuron negates its incoming and outgoing weights (the sigmoid's
        # shift of the next bias is left out of the cost, the distance checks it)
        cost_neg = ((ref[:, None, :] + cand[None, :, :]) ** 2).sum(axis=2)
        flipped = cost_neg < cost
        cost = np.minimum(cost, cost_neg)
    rows, perm = linear_sum_assignment(cost)  # cand neuron perm[i] matches ref i
    flip = np.zeros(len(perm), dtype=bool)
    flip[perm] = flipped[rows, perm]
    if flip.any() and activation is not None:  # only a sign-symmetric one flips
        params = flip_hidden(params, layers, layer, flip, activation)
    return permute_hidden(params, layers, layer, perm)


def _neurons(
    p: dict[str, np.ndarray], w: str, b: str | None, w_next: str | None = None
) -> np.ndarray:
    """Each neuron as a row: incoming weights, bias, and outgoing weights if asked."""
    parts = (
        [p[w]]
        + ([p[b]] if b is not None else [])
        + ([p[w_next].T] if w_next is not None else [])
    )
    return np.column_stack(parts)


def distance(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Euclidean distance between two parameter sets as flat vectors."""
    return float(np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in a)))


def pairwise_distances(
    params: list[dict[str, np.ndarray]],
    layers: list[tuple[str, str | None]] | None = None,
    activation: str | None = None,
    progress=None,
) -> np.ndarray:
    """Distances between every pair, shape ``(n, n)``; aligned first when ``layers``.

    The aligned distance of i and j aligns j to i (for i < j) and is mirrored.
    ``progress(done, total)`` is called after each row when given.
    """
    n = len(params)
    if layers is None:  # plain distances: one row at a time on the flat vectors
        flat = np.stack(
            [np.concatenate([p[k].ravel() for k in sorted(p)]) for p in params]
        )
        return np.stack([np.sqrt(((flat - row) ** 2).sum(axis=1)) for row in flat])
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            other = align(params[i], params[j], layers, activation)
            d[i, j] = d[j, i] = distance(params[i], other)
        if progress is not None:
            progress(i + 1, n)
    return d


def distances_via_reference(
    params: list[dict[str, np.ndarray]],
    reference: int,
    layers: list[tuple[str, str | None]],
    activation: str | None = None,
    progress=None,
) -> np.ndarray:
    """Aligned distances of every pair, shape ``(n, n)``, in linear time.

    Each run is aligned once to ``params[reference]`` (``align``), and the distance
    of i and j is that of their aligned vectors: an alignment of j to i through the
    reference (for permutations, an upper bound of the best alignment of the pair),
    the same as the pairwise one for runs at the reference's minimum (their neurons
    match the reference's the same way). ``n`` alignments and a vectorised distance
    matrix instead of ``n^2 / 2`` alignments. ``progress(done, total)`` every 100
    runs aligned and at the end.
    """
    n = len(params)
    ref = params[reference]
    names = sorted(ref)
    flat = np.empty((n, sum(ref[k].size for k in names)))
    for i, p in enumerate(params):
        a = p if i == reference else align(ref, p, layers, activation)
        flat[i] = np.concatenate([np.asarray(a[k], np.float64).ravel() for k in names])
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == n):
            progress(i + 1, n)
    return np.stack([np.sqrt(((flat - row) ** 2).sum(axis=1)) for row in flat])
