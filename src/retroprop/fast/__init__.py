"""Fast training paths, tested against the NumPy engine (the reference).

- ``spec``: which networks and settings the fast paths handle (``fast_reason``), and
  a network as flat arrays (``Layout``);
- ``single``: ``train``'s runners, chosen by ``pick_runner`` (``flat``: what they share);
- ``kernels``: Numba-compiled per-sample / small-batch training of one network;
- ``blas``: large mini-batches, BLAS products into preallocated buffers;
- ``many`` and ``many_kernels``: ``train_many``, blocks of networks in SIMD lanes;
- ``distributed``: ``train_many``'s seeds in blocks on a Dask cluster (Dask is
  imported only there, only when a client is given).

Nothing here imports Numba at import time; ``kernels``, ``blas`` and
``many_kernels`` are imported when a fast path runs, and their compiled code is
cached on disk.
"""

from retroprop.fast.many import ENGINES, ManyResult, train_many
from retroprop.fast.spec import fast_reason, numba_available

__all__ = ["ENGINES", "ManyResult", "fast_reason", "numba_available", "train_many"]
