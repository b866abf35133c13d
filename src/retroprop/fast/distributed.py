"""Many networks past one machine: blocks of seeds trained on a Dask cluster.

``train_cells`` runs a list of ``train_many`` calls ("cells": one per eta of a sweep,
one per grid cell, or just one). Without a client it runs them here, one after the
other. Given a ``dask.distributed.Client`` it splits each call's seeds into blocks of
consecutive seeds, sends every block of every cell to the workers at once, trains
each block there with the same local ``train_many`` (the engine resolved here, once,
so every worker runs the same one), and joins the blocks back in seed order.

Why the joined result is bit-identical to a local run: member ``i`` of
``train_many`` is ``make_net(seeds[i])`` trained with the sample order drawn from
``seeds[i]`` alone; no member reads another member's numbers (the NumPy engine's
batched matmuls are one product per member, the compiled engine's lanes never mix).
So which block a seed lands in, and which machine trains it, cannot change a bit of
its result. ``tests/test_distributed.py`` checks it against a ``LocalCluster``.

A block whose task fails (an exception on the worker) is run again up to
``retries`` times; a block whose worker dies is rescheduled by Dask itself (the data
is copied to every worker, so it survives the loss of one).

Dask is imported only inside these functions: ``import retroprop`` does not load it.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from retroprop.errors import ConfigError

MIN_BLOCK = 16
"""Fewest networks in a block: the compiled engine advances 16 lanes in lock-step."""

BLOCKS_PER_THREAD = 4
"""Blocks per worker thread when the block size is chosen: enough that a slow or
lost worker does not hold the whole run, few enough that each block's fixed cost
(shipping the task, compiling or loading the kernels once per worker) stays small."""

RETRIES = 3
"""How many times a failed block is run again before the run gives up."""


def block_size_for(n_networks: int, n_threads: int) -> int:
    """Networks per block: ``BLOCKS_PER_THREAD`` blocks per thread, rounded up to a
    multiple of ``MIN_BLOCK`` (the compiled engine's lanes), at least ``MIN_BLOCK``."""
    per_block = math.ceil(n_networks / max(1, n_threads * BLOCKS_PER_THREAD))
    return max(MIN_BLOCK, MIN_BLOCK * math.ceil(per_block / MIN_BLOCK))


def train_cells(
    train: Callable[..., Any],
    cells: Sequence[Mapping[str, Any]],
    *,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    block_size: int | None = None,
    retries: int = RETRIES,
) -> list[Any]:
    """``[train(**cell) for cell in cells]``, here or on a Dask cluster.

    Parameters
    ----------
    train : callable
        ``retroprop.train_many`` (passed in: ``many`` imports this module, so this
        one does not import ``many`` back).
    cells : sequence of dict
        Keyword arguments of one ``train`` call each; ``seeds`` among them.
    client : dask.distributed.Client or None
        None: run the cells here, one after the other.
    progress : callable or None
        ``progress(done, total)`` in networks trained, after each cell (here) or each
        finished block (on a cluster).
    block_size : int or None
        Networks per block; None chooses ``block_size_for`` the cluster's threads.
    retries : int
        Times a failed block is run again.

    Returns
    -------
    list of ManyResult
        One per cell, in order; on a cluster bit-identical to the local run.
    """
    cells = [{**cell, "seeds": [int(s) for s in cell["seeds"]]} for cell in cells]
    total = sum(len(cell["seeds"]) for cell in cells)
    if client is None:
        results, done = [], 0
        for cell in cells:
            results.append(train(**cell))
            done += len(cell["seeds"])
            if progress is not None:
                progress(done, total)
        return results
    if block_size is not None and (
        not isinstance(block_size, (int, np.integer)) or block_size < 1
    ):
        raise ConfigError(f"block_size must be a positive integer, got {block_size!r}")
    if not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ConfigError(f"retries must be an integer >= 0, got {retries!r}")
    from distributed import as_completed

    if block_size is None:
        block_size = block_size_for(total, sum(client.nthreads().values()))
    futures: dict[Any, tuple[int, int, int]] = {}  # future -> (cell, block, networks)
    n_blocks = []
    scattered: dict[int, Any] = {}  # one copy of each data array on the cluster
    for c, cell in enumerate(cells):
        seeds = cell["seeds"]
        if not seeds:
            raise ConfigError("seeds must hold at least one seed")
        # Validate here (one seed, one epoch) so a mistake fails before anything is
        # sent, and fix the engine "auto" picks here for every worker.
        probe = train(**{**cell, "seeds": seeds[:1], "epochs": 1})
        settings = {**cell, "engine": probe.engine}
        for name in ("X", "y", "validation"):
            value = settings.get(name)
            if value is not None:
                if id(value) not in scattered:
                    # On every worker: a worker that dies takes no only copy along.
                    [scattered[id(value)]] = client.scatter(
                        [value], hash=False, broadcast=True
                    )
                settings[name] = scattered[id(value)]
        starts = range(0, len(seeds), block_size)
        n_blocks.append(len(starts))
        for b, start in enumerate(starts):
            block = seeds[start : start + block_size]
            future = client.submit(
                _train_block,
                train,
                {**settings, "seeds": block},
                retries=retries,
                pure=False,
            )
            futures[future] = (c, b, len(block))
    parts: list[dict[int, Any]] = [{} for _ in cells]
    done = 0
    try:
        for future in as_completed(list(futures)):
            c, b, n = futures[future]
            parts[c][b] = future.result()
            done += n
            if progress is not None:
                progress(done, total)
    finally:
        client.cancel([f for f in futures if not f.done()])
    return [join([p[b] for b in range(nb)]) for p, nb in zip(parts, n_blocks)]


_COMPILED = threading.Lock()
"""One compiled block at a time per worker process: each call already spreads its
blocks of lanes over all of Numba's threads, and Numba's workqueue threading layer
aborts the process when two threads enter parallel code at once."""


def _train_block(train: Callable[..., Any], settings: dict[str, Any]) -> Any:
    """One block on a worker: the local ``train_many`` on its seeds."""
    if settings.get("engine") == "fast":
        with _COMPILED:
            return train(**settings)
    return train(**settings)


def join(parts: Sequence[Any]) -> Any:
    """Results of consecutive seed blocks -> one result, as if trained at once.

    Per-member arrays (and dicts of them, ``params``) are concatenated along their
    first axis; the run's settings (``engine``, ``iterations``) must agree; private
    fields (the template network) come from the first block.
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    values = {}
    for f in dataclasses.fields(first):
        got = [getattr(p, f.name) for p in parts]
        values[f.name] = got[0] if f.name.startswith("_") else _join(f.name, got)
    return type(first)(**values)


def _join(name: str, got: list[Any]) -> Any:
    first = got[0]
    if isinstance(first, np.ndarray):
        shapes = {g.shape[1:] for g in got}
        if len(shapes) != 1:
            raise ConfigError(
                f"the blocks' {name} have different shapes {sorted(shapes)}: "
                f"make_net must build the same architecture for every seed"
            )
        return np.concatenate(got)
    if isinstance(first, dict):
        if any(g.keys() != first.keys() for g in got):
            raise ConfigError(
                "the blocks' networks have different parameters: make_net must "
                "build the same architecture for every seed"
            )
        return {k: _join(f"{name}[{k!r}]", [g[k] for g in got]) for k in first}
    if any(g != first for g in got):
        raise ConfigError(f"the blocks disagree on {name}: {got}")
    return first
