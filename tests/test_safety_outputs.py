"""Outputs never destroy what is at the path (issue 15, findings 1, 2, 8 and 10).

What an output path names decides how it is written: a regular file is replaced
atomically keeping its permissions, a symbolic link is followed, a character device
or FIFO is written directly, ``-`` and ``/dev/stdout`` are standard output, and a
directory, socket or block device is refused. An output that is one of the command's
inputs (or another output) is refused before any work. Temporary files do not outlive
SIGTERM, and stale ones of dead processes are swept by the next write.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
import retroprop.atomic
from helpers import fail_writes_after
from retroprop.atomic import (
    OutputWriteError,
    atomic_write,
    check_outputs,
    check_writable,
    remove_stale_temps,
    write_bytes,
    write_text,
)
from retroprop.cli import main

ROOT = os.geteuid() == 0
SRC = str(Path(retroprop.__file__).resolve().parents[1])
TESTS = str(Path(__file__).resolve().parent)
IRIS = str(Path(rp.datasets.__file__).resolve().parent / "iris.csv")
needs_root = pytest.mark.skipif(not ROOT, reason="mknod needs root")


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("retroprop: error: "), err
    assert "Traceback" not in err
    return err


def temps(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if retroprop.atomic.TEMP_MARK in p.name
    )


def _model(seed: int = 0) -> rp.Model:
    return rp.Model(rp.mlp([4, 4, 3, 3], seed=seed), class_names=["a", "b", "c"])


def _saved_bytes(tmp_path: Path, seed: int = 0) -> bytes:
    probe = tmp_path / f"probe-{seed}.safetensors"
    rp.save(_model(seed), probe)
    data = probe.read_bytes()
    probe.unlink()
    return data


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + TESTS}


# -- what the path names ------------------------------------------------------------


@needs_root
def test_a_character_device_is_written_to_not_replaced(tmp_path, capsys):
    """The issue's reproducer: `train --save DIR/fn` made fn a 1,680-byte file."""
    dev = tmp_path / "fn"
    subprocess.run(["mknod", "-m", "666", str(dev), "c", "1", "3"], check=True)
    code, _, err = run(capsys, "train", "-q", "--epochs", "1", "--save", dev)
    assert code == 0, err
    st = os.lstat(dev)
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1
    assert os.minor(st.st_rdev) == 3 and stat.S_IMODE(st.st_mode) == 0o666
    assert temps(tmp_path) == []


def test_dev_null_is_written_to_not_replaced():
    before = os.stat("/dev/null")
    write_text("/dev/null", "nothing")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_fifo_is_streamed_to_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(
        target=lambda: received.append(fifo.read_bytes()), daemon=True
    )
    reader.start()
    rp.save(_model(0), fifo)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received == [_saved_bytes(tmp_path)]  # the whole model, as a file holds it


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "elsewhere" / "real.m"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.m"
    link.symlink_to(real)
    rp.save(_model(1), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == _saved_bytes(tmp_path, 1)
    assert temps(tmp_path) == [] and temps(real.parent) == []


def test_a_chain_of_links_and_a_dangling_link(tmp_path):
    real = tmp_path / "real.csv"
    (tmp_path / "a").symlink_to("b")  # relative links, resolved from their folder
    (tmp_path / "b").symlink_to("real.csv")
    write_text(tmp_path / "a", "x\n")  # real.csv does not exist yet: created
    assert real.read_text() == "x\n" and (tmp_path / "a").is_symlink()
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    with pytest.raises(rp.ConfigError, match="too many levels of symbolic links"):
        write_text(tmp_path / "loop1", "x")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_permission_bits_of_the_old_file_are_kept(tmp_path, mode):
    path = tmp_path / "private.m"
    path.write_bytes(b"old")
    os.chmod(path, mode)
    rp.save(_model(0), path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    rp.load(path)


def test_a_hard_link_is_replaced_and_the_other_name_keeps_the_old_content(tmp_path):
    """As rsync, sed -i and git: the name gets the new file, nothing is half-written."""
    path, other = tmp_path / "m.safetensors", tmp_path / "backup.safetensors"
    rp.save(_model(0), path)
    os.link(path, other)
    rp.save(_model(1), path)
    assert path.read_bytes() == _saved_bytes(tmp_path, 1)
    assert other.read_bytes() == _saved_bytes(tmp_path, 0)


def test_dash_and_dev_stdout_print_and_replace_nothing(tmp_path, capsys):
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    for target in ("-", "/dev/stdout", link):
        code, out, err = run(capsys, "explain", "--format", "csv", "--output", target)
        assert code == 0, err
        assert out.startswith("name,index,value,grad,lr,updated")
        assert f"to {target}" in err
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert os.path.islink("/dev/stdout") or stat.S_ISCHR(os.stat("/dev/stdout").st_mode)


def test_dev_stdout_of_a_real_process_is_the_process_output(tmp_path):
    """The issue: `explain --output /dev/stdout` replaced the link and printed nothing."""
    explain = [sys.executable, "-m", "retroprop", "explain", "--format", "csv"]
    res = subprocess.run(
        [*explain, "--output", "/dev/stdout"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("name,index,value,grad,lr,updated")


def test_directories_sockets_and_block_devices_are_refused(tmp_path, capsys):
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        cases = [(tmp_path, "is a directory"), (sock_path, "is a socket")]
        if ROOT:
            disk = tmp_path / "disk"
            subprocess.run(["mknod", str(disk), "b", "7", "250"], check=True)
            cases.append((disk, "is a block device"))
        for path, why in cases:
            with pytest.raises(rp.ConfigError, match=why):
                write_bytes(path, b"x")
            code, _, err = run(capsys, "train", "-q", "--epochs", "1", "--save", path)
            assert why in one_line_error(code, err)
    finally:
        server.close()
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


def test_a_read_only_file_is_refused_not_replaced(tmp_path, monkeypatch, capsys):
    """A rename could replace it, but a file marked read-only says "keep me", as cp
    and editors take it. (Root may write anything: os.access is replaced so the
    test means the same for root and other users.)"""
    path = tmp_path / "keep.m"
    path.write_bytes(b"precious")
    path.chmod(0o444)
    real_access = os.access
    monkeypatch.setattr(
        retroprop.atomic.os,
        "access",
        lambda p, m: (
            False if os.fspath(p) == str(path) and m & os.W_OK else real_access(p, m)
        ),
    )
    with pytest.raises(rp.ConfigError, match=r"is read-only \(mode 0444\)"):
        write_bytes(path, b"new")
    code, _, err = run(capsys, "train", "-q", "--epochs", "1", "--save", path)
    assert "chmod u+w" in one_line_error(code, err)
    assert path.read_bytes() == b"precious" and temps(tmp_path) == []


# -- outputs against inputs ---------------------------------------------------------


@pytest.fixture
def data_csv(tmp_path) -> Path:
    path = tmp_path / "d.csv"
    path.write_bytes(Path(IRIS).read_bytes())
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command reaches its data: the refusal must come first."""

    def started(*a, **k):
        raise AssertionError("the command started working before refusing")

    monkeypatch.setattr("retroprop.recipe.prepare_data", started)
    monkeypatch.setattr("retroprop.recipe.load_dataset", started)
    monkeypatch.setattr("retroprop.datasets.load_csv", started)  # cli's load_data


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--data", "{d}", "--record-bias", "{d}"],
        ["train", "--data", "{d}", "--save", "{d}"],
        ["train", "--data", "{d}", "--plot", "{d}"],
        ["explain", "--data", "{d}", "--format", "csv", "--output", "{d}"],
        ["report", "--data", "{d}", "--output", "{d}"],
        ["seeds", "--data", "{d}", "--csv", "{d}"],
        ["surface", "--data", "{d}", "--json", "{d}"],
        ["sweep", "lr", "--data", "{d}", "--output", "{d}"],
        ["plot", "boundary", "--data", "{d}", "--output", "{d}"],
    ],
)
def test_an_output_naming_the_data_is_refused_before_any_work(
    capsys, data_csv, no_work, args
):
    before = data_csv.read_bytes()
    code, out, err = run(capsys, *[a.format(d=data_csv) for a in args])
    assert "the same file as --data" in one_line_error(code, err)
    assert out == "" and data_csv.read_bytes() == before


def test_predict_output_naming_its_data_or_model_is_refused(
    tmp_path, capsys, data_csv, no_work
):
    model = tmp_path / "m.safetensors"
    rp.save(_model(0), model)
    before = model.read_bytes(), data_csv.read_bytes()
    for path, named in ((data_csv, "--data"), (model, "--model")):
        code, out, err = run(
            capsys, "predict", "--model", model, "--data", data_csv, "--output", path
        )
        assert f"the same file as {named}" in one_line_error(code, err)
        assert out == ""
    assert (model.read_bytes(), data_csv.read_bytes()) == before


def test_an_output_naming_the_model_is_refused(tmp_path, capsys, data_csv, no_work):
    model = tmp_path / "m.safetensors"
    rp.save(_model(0), model)
    before = model.read_bytes()
    for cmd in (["explain"], ["plot", "boundary"]):
        code, _, err = run(capsys, *cmd, "--model", model, "--output", model)
        assert "the same file as --model" in one_line_error(code, err)
    assert model.read_bytes() == before


def test_the_same_file_by_another_spelling_a_symlink_or_a_hard_link(
    tmp_path, monkeypatch, data_csv
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "via-link.csv").symlink_to(data_csv)
    os.link(data_csv, tmp_path / "hard.csv")
    for spelling in (
        "d.csv",
        "./sub/../d.csv",
        str(data_csv),
        "via-link.csv",
        "hard.csv",
    ):
        with pytest.raises(rp.ConfigError, match="the same file as --data"):
            check_outputs(inputs={"--data": "d.csv"}, outputs={"--save": spelling})
    # a link *to* an input's name that does not exist yet is caught too
    (tmp_path / "future").symlink_to("not-yet.m")
    with pytest.raises(rp.ConfigError, match="same file"):
        check_outputs(outputs={"--save": "future", "--plot": "not-yet.m"})


def test_two_outputs_at_one_path_are_refused(tmp_path, capsys, no_work):
    """The issue: `train --save m --plot m` left a PNG at m and said it saved the model."""
    m = tmp_path / "m"
    code, _, err = run(capsys, "train", "--save", m, "--plot", m)
    assert "are the same file" in one_line_error(code, err)
    assert not m.exists()


def test_devices_and_stdout_may_repeat_and_distinct_files_pass(tmp_path):
    check_outputs(
        inputs={"--data": IRIS},
        outputs={"--save": "/dev/null", "--plot": "/dev/null", "--csv": "-"},
    )
    check_outputs(
        inputs={"--data": IRIS, "--model": None},
        outputs={"--save": tmp_path / "a", "--plot": tmp_path / "b", "--json": None},
    )
    check_outputs(inputs=[IRIS], outputs=[tmp_path / "c"])  # plain lists too


def test_a_missing_output_folder_is_refused_naming_it(tmp_path, capsys, no_work):
    code, _, err = run(capsys, "report", "--output", tmp_path / "nope" / "r.html")
    assert "folder" in one_line_error(code, err) and "does not exist" in err


# -- a folder that cannot be written -------------------------------------------------


def _read_only_command(folder: Path, args: list[str]) -> list[str]:
    """The command run with ``folder`` read-only: as root (who bypasses permission
    bits) inside a private mount namespace where it is a read-only bind mount; as
    another user, with the folder's mode 0555."""
    if not ROOT:
        folder.chmod(0o555)
        return args
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("root without unshare -m: no way to make a read-only folder")
    mount = f"mount --bind -o ro {shlex.quote(str(folder))} {shlex.quote(str(folder))}"
    return ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *args]


def test_a_read_only_folder_is_refused_before_training(tmp_path):
    """A real read-only folder (EROFS as root, EACCES otherwise), found before the
    500 epochs would start."""
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "m.safetensors"
    args = [sys.executable, "-m", "retroprop", "train", "--epochs", "500", "-q"]
    res = subprocess.run(
        _read_only_command(folder, [*args, "--save", str(target)]),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    folder.chmod(0o755)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert f"cannot write in folder {folder}" in res.stderr
    assert ("Read-only file system" if ROOT else "Permission denied") in res.stderr
    assert res.stdout == "" and list(folder.iterdir()) == []


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    fail_writes_after(monkeypatch, 3)
    with pytest.raises(OutputWriteError) as info:
        write_text(path, "new content\n")
    msg = str(info.value)
    assert msg == (
        f"cannot write {path}: No space left on device; the previous file is unchanged"
    )
    assert info.value.errno == 28 and isinstance(info.value, OSError)
    assert path.read_text() == "old\n" and temps(tmp_path) == []


def test_creating_the_temporary_file_failing_names_the_target(tmp_path, monkeypatch):
    import errno

    def read_only(real):
        raise OSError(errno.EROFS, "Read-only file system", real + ".retroprop-tmp-1")

    monkeypatch.setattr(retroprop.atomic, "_create_temp", read_only)
    with pytest.raises(OutputWriteError, match="Read-only file system") as info:
        write_text(tmp_path / "new.csv", "x")
    assert str(info.value).startswith(f"cannot write {tmp_path / 'new.csv'}: ")
    assert "retroprop-tmp" not in str(info.value)
    with pytest.raises(rp.ConfigError, match=r"cannot write in folder .*Read-only"):
        check_writable(tmp_path / "new.csv")


def test_a_full_disk_while_saving_xlsx_is_one_line(tmp_path):
    """openpyxl's half-written ZipFile printed an 8-line traceback from __del__."""
    out = tmp_path / "step.xlsx"
    script = f"""
import sys
from helpers import fail_writes_after
class Patch:
    setattr = staticmethod(setattr)
fail_writes_after(Patch, 1000)
from retroprop.cli import main
main(["explain", "--format", "xlsx", "--output", {str(out)!r}])
"""
    pytest.importorskip("openpyxl")
    res = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert res.returncode == 2, res.stderr
    assert res.stderr == (
        f"retroprop: error: cannot write {out}: No space left on device; "
        f"nothing was written\n"
    )
    assert list(tmp_path.iterdir()) == []


# -- temporary files: signals and stale ones ------------------------------------------

SLOW_WRITER = """
import sys, time
from retroprop.atomic import atomic_write
with atomic_write(sys.argv[1], "w") as f:
    f.write("partial"); f.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_write_leaves_no_temporary_file(tmp_path, signo):
    target = tmp_path / "model.m"
    target.write_text("old")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    assert len(temps(tmp_path)) == 1  # the write is under way
    proc.send_signal(signo)
    assert proc.wait(timeout=60) == -signo  # it still dies of the signal (128 + n)
    assert temps(tmp_path) == [] and target.read_text() == "old"


def test_ctrl_c_during_a_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "model.m"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert temps(tmp_path) == [] and not target.exists()


def test_a_killed_writers_temporary_file_is_swept_by_the_next_write(tmp_path):
    """SIGKILL cannot be caught: the temporary file stays, named with the dead pid,
    until a later write into the folder removes it."""
    target = tmp_path / "model.m"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    proc.kill()
    proc.wait(timeout=60)
    stale = temps(tmp_path)
    assert len(stale) == 1 and f"-tmp-{proc.pid}-" in stale[0]
    # a live process's temporary file is left alone
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".other.csv.retroprop-tmp-{live.pid}-0123abcd"
        theirs.write_text("in progress")
        write_text(tmp_path / "unrelated.csv", "x\n")
        assert temps(tmp_path) == [theirs.name]
    finally:
        live.kill()
        live.wait()
    assert remove_stale_temps(tmp_path) == [str(theirs)]


def test_signal_handlers_are_restored_after_a_write(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    with atomic_write(tmp_path / "x", "w") as f:
        f.write("x")
    assert {s: signal.getsignal(s) for s in before} == before


def test_writing_from_threads(tmp_path):
    """Writers in other threads cannot set signal handlers; they still write whole."""

    def write(i: int) -> None:
        write_bytes(tmp_path / f"f{i}", bytes([i]) * 10_000)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert (tmp_path / f"f{i}").read_bytes() == bytes([i]) * 10_000
    assert temps(tmp_path) == []


def test_a_saved_model_round_trips_through_every_kind_of_target(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    for path in (tmp_path / "plain", link):
        rp.save(_model(2), path)
        np.testing.assert_array_equal(
            rp.load(path).net.state_dict()["0.weight"],
            _model(2).net.state_dict()["0.weight"],
        )
