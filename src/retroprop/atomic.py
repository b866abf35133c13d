"""Writing output files without destroying what is at the path.

Every file retroprop writes (models, CSV, JSON, spreadsheets, pictures, pages) goes
through ``atomic_write``, which first looks at what the path names:

- a regular file, or a name that does not exist yet: the content goes to a temporary
  file in the same folder (``.NAME.retroprop-tmp-PID-RANDOM``), is flushed to disk,
  and is renamed over the target in one step, keeping the old file's permission bits
  (and owner, where allowed). A failure part way leaves the old file as it was.
- a symbolic link: followed to its final target, which is written by these rules;
  the link stays a link.
- ``-``, ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``: that open stream.
- a character device (``/dev/null``, a terminal) or a FIFO: opened and written
  directly, never renamed over.
- a directory, a socket or a block device (a disk), or a regular file you may not
  write (a read-only file): refused with ``ConfigError``.

``check_outputs`` refuses, before any work, an output that names one of the command's
inputs or another output (also through a link), and an output folder where nothing
can be written. Temporary files are removed when a write fails, on Ctrl-C and on
SIGTERM/SIGHUP; a write also removes the temporary files of dead processes it finds
in its folder. docs/outputs.md states these rules for users.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from retroprop.errors import ConfigError, RetropropError
from retroprop.i18n import _

TEMP_MARK = ".retroprop-tmp-"
"""What every temporary file's name contains: ``.NAME.retroprop-tmp-PID-RANDOM``."""

_TEMP_NAME = re.compile(r"\..*\.retroprop-tmp-(\d+)-[0-9a-f]{8}", re.DOTALL)
_FD_PATH = re.compile(r"/(?:dev/fd|proc/self/fd|proc/(\d+)/fd)/(\d+)")
_MAX_LINKS = 40  # as the kernel's ELOOP limit


class OutputWriteError(RetropropError, OSError):
    """Writing an output failed (full disk, read-only file system, no permission...).

    The message names the file the user asked for, never the temporary file, and
    says whether the previous file was kept. ``errno`` is the system's.
    """

    def __init__(self, code: int | None, message: str, filename: str):
        super().__init__(code, message, filename)
        self.message = message

    def __str__(self) -> str:
        return self.message


# -- what a path names ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What writing to a path means.

    Attributes
    ----------
    kind : str
        ``"file"`` (replaced atomically, or created), ``"stream"`` (a character
        device or FIFO, opened and written directly) or ``"fd"`` (an open file
        descriptor: ``-``, ``/dev/stdout``, ``/dev/fd/N``).
    path : str
        The file really written: a symbolic link's final target.
    fd : int or None
        For ``"fd"``: the descriptor (1 for ``-`` and ``/dev/stdout``).
    """

    kind: str
    path: str
    fd: int | None = None


def _fd_of(path: str) -> int | None:
    """The descriptor a spelling like ``-``, ``/dev/stdout`` or ``/dev/fd/3`` names."""
    if path == "-":
        return 1
    a = os.path.abspath(path)
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    if a in named:
        return named[a]
    m = _FD_PATH.fullmatch(a)
    if m and (m.group(1) is None or int(m.group(1)) == os.getpid()):
        return int(m.group(2))
    return None


def resolve(path: str | os.PathLike) -> Target:
    """What ``atomic_write(path)`` would write to, or ``ConfigError`` saying why not.

    Symbolic links are followed one at a time, so a link to ``/dev/stdout`` is the
    stream and not the file behind the kernel's ``/proc/self/fd/1``.
    """
    shown = os.fspath(path)
    if shown == "":
        raise ConfigError(_("an output path is empty; give a file name"))
    p = shown
    for _link in range(_MAX_LINKS):
        fd = _fd_of(p)
        if fd is not None:
            return Target("fd", p, fd)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return _new_file(shown, p)
        except OSError as e:
            raise ConfigError(
                _("{shown}: cannot be examined ({strerror})").format(
                    shown=shown, strerror=e.strerror
                )
            ) from None
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            p = os.path.join(os.path.dirname(p), os.readlink(p))
            continue
        if stat.S_ISREG(mode):
            if not os.access(p, os.W_OK):
                # A rename would replace it anyway; a read-only file says "keep me"
                # (cp refuses it, an editor asks), so refuse rather than guess.
                raise ConfigError(
                    _(
                        "{shown}: is read-only (mode {value:04o}); make it writable (chmod u+w) "
                        "or give another name"
                    ).format(shown=shown, value=stat.S_IMODE(mode))
                )
            return Target("file", p)
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return Target("stream", p)
        if stat.S_ISDIR(mode):
            raise ConfigError(
                _("{shown}: is a directory; give a file name").format(shown=shown)
            )
        if stat.S_ISBLK(mode):
            raise ConfigError(
                _(
                    "{shown}: is a block device (a disk); retroprop does not write over "
                    "disks: give a file name"
                ).format(shown=shown)
            )
        what = _("a socket") if stat.S_ISSOCK(mode) else _("not a regular file")
        raise ConfigError(
            _("{shown}: is {what}; give a file name").format(shown=shown, what=what)
        )
    raise ConfigError(
        _("{shown}: too many levels of symbolic links (a loop?)").format(shown=shown)
    )


def _new_file(shown: str, p: str) -> Target:
    if p.endswith(os.sep):
        raise ConfigError(
            _("{shown}: ends with {sep}; give a file name").format(
                shown=shown, sep=os.sep
            )
        )
    folder = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(folder):
        link = (
            ""
            if p == shown
            else _(" (where the link {shown} points)").format(shown=shown)
        )
        raise ConfigError(
            _("{shown}: folder {folder} does not exist{link}; create it first").format(
                shown=shown, folder=folder, link=link
            )
        )
    return Target("file", p)


def check_writable(path: str | os.PathLike) -> str:
    """Refuse (``ConfigError``) a path ``atomic_write`` could not write, before any work.

    A file's folder must exist and let a file be created in it (tried for real, so a
    read-only file system, permissions and ACLs all count); a directory, socket or
    block device is refused. Returns the path as given.
    """
    target = resolve(path)
    if target.kind == "file":
        _probe_folder(os.fspath(path), target.path)
    return os.fspath(path)


def _probe_folder(shown: str, real: str) -> None:
    folder = os.path.dirname(os.path.abspath(real))
    try:
        fd, tmp = _create_temp(real)
    except OSError as e:
        raise ConfigError(
            _(
                "{shown}: cannot write in folder {folder} ({strerror}); retroprop "
                "replaces a file through a temporary file next to it: choose a folder "
                "you can write to"
            ).format(shown=shown, folder=folder, strerror=e.strerror)
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


# -- outputs against inputs -------------------------------------------------------

Paths = Mapping[str, "str | os.PathLike | None"] | Iterable["str | os.PathLike | None"]


def _labelled(paths: Paths, default: str) -> list[tuple[str, str]]:
    items = (
        paths.items() if isinstance(paths, Mapping) else ((default, p) for p in paths)
    )
    return [(label, os.fspath(p)) for label, p in items if p is not None]


def _identity(path: str) -> tuple:
    """The file a path names: its device and inode when it exists, else where it is."""
    try:
        st = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", st.st_dev, st.st_ino)


def _same(a: str, b: str) -> bool:
    if _identity(a) == _identity(b):
        return True
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(inputs: Paths = (), outputs: Paths = ()) -> None:
    """Refuse (``ConfigError``, one line) outputs that would destroy something.

    Run before any work: every output must be writable (``check_writable``), must not
    be one of ``inputs`` (the same file by name, by a symbolic link or a hard link),
    and no two outputs may be the same file. Character devices (``/dev/null``) and
    open streams (``-``, ``/dev/stdout``) may repeat.

    Parameters
    ----------
    inputs, outputs : mapping of label -> path, or iterable of paths
        The label names the path in the message (e.g. ``{"--data": "d.csv"}``);
        ``None`` paths are skipped.
    """
    ins = _labelled(inputs, "input")
    outs = _labelled(outputs, "output")
    files = []
    for label, p in outs:
        try:
            target = resolve(p)
        except ConfigError as e:
            raise ConfigError(f"{label} {e}") from None
        if target.kind == "file":
            try:
                _probe_folder(p, target.path)
            except ConfigError as e:
                raise ConfigError(f"{label} {e}") from None
        if target.kind == "fd" or (
            target.kind == "stream" and stat.S_ISCHR(os.stat(target.path).st_mode)
        ):
            continue  # writing /dev/null or the terminal twice destroys nothing
        files.append((label, p))
    for i, (label, p) in enumerate(files):
        for in_label, q in ins:
            if _same(p, q):
                raise ConfigError(
                    _(
                        "{label} {p} is the same file as {in_label} {q}: writing it would "
                        "destroy that input; give {label} another path"
                    ).format(label=label, p=p, in_label=in_label, q=q)
                )
        for other_label, q in files[:i]:
            if _same(p, q):
                raise ConfigError(
                    _(
                        "{other_label} {q} and {label} {p} are the same file: one would "
                        "overwrite the other; give them different paths"
                    ).format(other_label=other_label, q=q, label=label, p=p)
                )


# -- temporary files: named, tracked, removed on signals, swept when stale ------

_IN_FLIGHT: set[str] = set()
_LOCK = threading.Lock()
_HANDLED = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGHUP", "SIGINT")
    if hasattr(signal, name)  # no SIGHUP on Windows
)
_INSTALLED: dict[int, Any] = {}


def _create_temp(real: str) -> tuple[int, str]:
    """Create ``.NAME.retroprop-tmp-PID-RANDOM`` next to ``real``: ``(fd, path)``."""
    folder = os.path.dirname(os.path.abspath(real))
    base = os.path.basename(real)[:180]  # a name is at most 255 bytes
    tmp = os.path.join(
        folder, f".{base}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    return os.open(tmp, flags, 0o600), tmp


def _on_signal(signo: int, frame: object) -> None:
    """SIGTERM/SIGHUP/SIGINT whose action was to die: remove the temporary files, then
    die of the same signal (so the parent sees 128 + signo, as without us)."""
    for tmp in list(_IN_FLIGHT):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _IN_FLIGHT.clear()
    signal.signal(signo, signal.SIG_DFL)
    os.kill(os.getpid(), signo)


def _track(tmp: str) -> None:
    with _LOCK:
        _IN_FLIGHT.add(tmp)
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; stale sweeping remains
        for signo in _HANDLED:
            # Only signals that would kill the process without cleanup: Python's
            # SIGINT already raises KeyboardInterrupt, which the writer handles.
            if signo not in _INSTALLED and signal.getsignal(signo) == signal.SIG_DFL:
                _INSTALLED[signo] = signal.signal(signo, _on_signal)


def _untrack(tmp: str) -> None:
    with _LOCK:
        _IN_FLIGHT.discard(tmp)
        if _IN_FLIGHT or threading.current_thread() is not threading.main_thread():
            return
        for signo, previous in list(_INSTALLED.items()):
            if signal.getsignal(signo) is _on_signal:
                signal.signal(signo, previous)
            del _INSTALLED[signo]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Remove retroprop temporary files in ``folder`` whose process is gone.

    A temporary file of a live process (or of this one) is left alone. Returns the
    paths removed.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.fullmatch(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(entry.path)
    return removed


# -- writing ----------------------------------------------------------------------


def _failed(e: OSError, shown: str, tail: str) -> OutputWriteError:
    why = e.strerror or str(e)
    return OutputWriteError(e.errno, f"cannot write {shown}: {why}; {tail}", shown)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", encoding: str | None = None
) -> Iterator[IO]:
    """Open ``path`` for writing by the rules of this module's docstring.

    ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise).
    For a regular file the content replaces ``path`` only when the ``with`` block
    ends without an exception. Errors while writing are ``OutputWriteError`` naming
    ``path``; a path that cannot be written is ``ConfigError``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(_("mode must be 'wb' or 'w', got {mode!r}").format(mode=mode))
    shown = os.fspath(path)
    target = resolve(shown)
    kwargs: dict[str, Any] = (
        {} if mode == "wb" else {"encoding": encoding or "utf-8", "newline": ""}
    )
    if target.kind == "fd":
        with _open_fd(target.fd, shown, mode, kwargs) as f:
            yield f
    elif target.kind == "stream":
        with _open_stream(target.path, shown, mode, kwargs) as f:
            yield f
    else:
        with _replace(target.path, shown, mode, kwargs) as f:
            yield f


@contextlib.contextmanager
def _open_fd(fd: int | None, shown: str, mode: str, kwargs: dict) -> Iterator[IO]:
    std = {1: sys.stdout, 2: sys.stderr}.get(fd if fd is not None else -1)
    if std is not None:
        # What Python itself prints there (also when the stream is replaced, as
        # under test): write through it, never close it.
        try:
            if mode == "w":
                yield std
            else:
                std.flush()
                yield std.buffer
            std.flush()
        except OSError as e:
            raise _failed(e, shown, "the output may be incomplete") from None
        return
    try:
        dup = os.dup(fd if fd is not None else -1)
        with os.fdopen(dup, mode, **kwargs) as f:
            yield f
    except OSError as e:
        raise _failed(e, shown, "the output may be incomplete") from None


@contextlib.contextmanager
def _open_stream(real: str, shown: str, mode: str, kwargs: dict) -> Iterator[IO]:
    # No O_TRUNC, no O_CREAT: a device or FIFO is written as `cmd > path` would.
    try:
        fd = os.open(real, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
    except OSError as e:
        tail = "it is written directly, so part of it may have been written"
        raise _failed(e, shown, tail) from None


@contextlib.contextmanager
def _replace(real: str, shown: str, mode: str, kwargs: dict) -> Iterator[IO]:
    folder = os.path.dirname(os.path.abspath(real))
    try:
        old: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        old = None
    tail = (
        "the previous file is unchanged" if old is not None else "nothing was written"
    )
    remove_stale_temps(folder)
    try:
        fd, tmp = _create_temp(real)
    except OSError as e:
        raise _failed(e, shown, tail) from None
    _track(tmp)
    try:
        try:
            if old is None:
                os.fchmod(fd, 0o666 & ~_umask())  # as a plain open() would create it
            else:
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(OSError):  # allowed for root only
                        os.fchown(fd, old.st_uid, old.st_gid)
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
            with os.fdopen(fd, mode, **kwargs) as f:
                fd = -1  # the file object owns it now
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, real)
        except BaseException:
            if fd != -1:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        finally:
            _untrack(tmp)
    except OutputWriteError:
        raise
    except OSError as e:
        raise _failed(e, shown, tail) from None
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (best effort: not every system allows it)."""
    with contextlib.suppress(OSError):
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


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
    """Write ``text`` (UTF-8) to ``path`` by ``atomic_write``'s rules."""
    with atomic_write(path, "w") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` by ``atomic_write``'s rules."""
    with atomic_write(path, "wb") as f:
        f.write(data)


__all__ = [
    "TEMP_MARK",
    "OutputWriteError",
    "Target",
    "atomic_write",
    "check_outputs",
    "check_writable",
    "remove_stale_temps",
    "resolve",
    "write_bytes",
    "write_text",
]
