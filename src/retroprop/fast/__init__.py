"""Fast training paths, tested against the NumPy engine (the reference).

- ``spec``: which networks and settings the fast paths handle, and the network as
  arrays;
- ``kernels``: Numba-compiled per-sample / small-batch training of one network
  (imported only when used; compiled code is cached on disk);
- ``many``: ``train_many``, many networks of one shape at once.

Nothing here imports Numba at import time.
"""

from retroprop.fast.many import ENGINES, ManyResult, train_many
from retroprop.fast.spec import fast_reason, numba_available

__all__ = ["ENGINES", "ManyResult", "fast_reason", "numba_available", "train_many"]
