"""Atomic file writing: a file appears whole, or the old one stays as it was.

Every file retroprop writes (models, CSV, JSON, spreadsheets, pictures, pages) goes
through ``atomic_write``: the content is written to a temporary file in the same
folder, flushed to disk, then renamed over the target in one step. A failure part way
removes the temporary file and leaves any previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

from retroprop.errors import ConfigError


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", encoding: str | None = None
) -> Iterator[IO]:
    """Open a temporary file to write; on success it replaces ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    target = check_writable(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder
    )
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would create it
        kwargs = (
            {} if mode == "wb" else {"encoding": encoding or "utf-8", "newline": ""}
        )
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path: str | os.PathLike) -> str:
    """Refuse (``ConfigError``) a path ``atomic_write`` could not write, before any work.

    The folder must exist and the path must not be a directory. Returns the path.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ConfigError(f"{target}: folder {folder} does not exist; create it first")
    if os.path.isdir(target):
        raise ConfigError(f"{target}: is a directory; give a file name")
    return target


def _read_umask() -> int:
    # Read once, at import: os.umask can only be read by setting it, which would race
    # with other threads creating files if done on every write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)
