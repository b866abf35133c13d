"""Numba set up so that the process stays healthy: fork-safe threads, a sound cache.

``prepare_numba()`` runs once, before ``retroprop.fast.kernels`` (the first module of
the fast path that imports Numba) defines its compiled functions:

- **Fork safety.** ``train_many``'s parallel kernel starts Numba's threading layer.
  With GNU OpenMP (Numba's default on Linux when TBB is missing) a process that has
  used it cannot ``fork()``: a forked worker (``multiprocessing.Pool``) dies with
  "Terminating: fork() called from a process already using GNU OpenMP" or hangs.
  Unless the user chose a layer (``NUMBA_THREADING_LAYER``), retroprop asks for
  ``"forksafe"``: TBB when installed, else Numba's own ``workqueue``. The workqueue
  layer must not be entered by two threads at once, so ``PARALLEL_LOCK`` serialises
  retroprop's parallel kernel calls.
- **A damaged cache.** Compiled code is cached on disk (``cache=True``). A truncated
  index (``.nbi``) or data file (``.nbc``), from a full disk or a killed process,
  made every later run fail with "UnpicklingError". The cache files of
  ``retroprop.fast`` are checked (each index unpickled, each data file ending in
  pickle's STOP byte); damaged ones are removed, so Numba compiles again, and one
  line on stderr says so.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from pathlib import Path

PARALLEL_LOCK = threading.Lock()
"""Held around every call of a ``parallel=True`` kernel (see the module docstring)."""

KERNEL_MODULES = ("kernels", "blas", "many_kernels")
"""The modules of ``retroprop.fast`` whose compiled code Numba caches."""

_prepared = False


def prepare_numba() -> None:
    """Choose a fork-safe threading layer and repair the cache (once per process)."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    import numba

    if not os.environ.get("NUMBA_THREADING_LAYER"):
        setattr(numba.config, "THREADING_LAYER", "forksafe")  # noqa: B010
    check_cache(cache_dir())


def check_cache(folder: Path | None, modules: tuple[str, ...] = KERNEL_MODULES) -> None:
    """``repair_cache``, saying on stderr when it removed something."""
    removed = repair_cache(folder, modules)
    if removed:
        print(
            f"retroprop: note: the compiled-code cache in {folder} was damaged "
            f"({len(removed)} file(s)); removed them, compiling again (slow once)",
            file=sys.stderr,
        )


def cache_dir(source: Path | None = None) -> Path | None:
    """The folder Numba caches ``retroprop.fast``'s compiled code in (the same
    search as Numba's own: ``NUMBA_CACHE_DIR``, the package's ``__pycache__``, the
    user's cache folder), or None when it cannot cache; for the functions of the
    file ``source`` when given (a ``codegen`` kernel)."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
        classes = impl._locator_classes
    except (ImportError, AttributeError):  # another Numba: leave its cache to it
        return None
    path = str(source or Path(__file__).with_name("kernels.py"))
    for cls in classes:
        try:
            locator = cls.from_function(prepare_numba, path)
        except (OSError, ValueError, TypeError, AttributeError, RuntimeError):
            continue  # a locator that does not apply here
        if locator is not None:
            return Path(locator.get_cache_path())
    return None


def repair_cache(
    folder: Path | None, modules: tuple[str, ...] = KERNEL_MODULES
) -> list[Path]:
    """Remove the damaged cache files of ``modules`` in ``folder``.

    An index that does not unpickle, or one whose data files are missing their
    final STOP byte (truncated), is removed with all of its data files. Returns the
    files removed.
    """
    if folder is None or not folder.is_dir():
        return []
    removed: list[Path] = []
    for index in sorted(folder.glob("*.nbi")):
        if index.name.split(".", 1)[0] not in modules:
            continue
        stem = index.name[: -len(".nbi")]
        data = sorted(folder.glob(f"{stem}.*.nbc"))
        if _index_is_sound(index) and all(_data_is_sound(p) for p in data):
            continue
        for path in [index, *data]:
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def _index_is_sound(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            pickle.load(f)  # Numba's version
            pickle.loads(f.read())  # (source stamp, overloads)
    except FileNotFoundError:
        return True
    except Exception:  # noqa: BLE001 - whatever a damaged pickle raises, it is damaged
        return False
    return True


def _data_is_sound(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) == pickle.STOP
    except FileNotFoundError:
        return True
    except OSError:
        return False
