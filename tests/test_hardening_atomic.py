"""Atomic saving: a failure part way leaves the previous file whole and no debris.

The failure is simulated inside the real ``retroprop.atomic.atomic_write``: its
``os.fdopen`` is replaced by one whose file object writes a given number of bytes
(or characters) and then raises ``OSError(ENOSPC)``, as a full disk would; ``fsync``
and ``os.replace`` failing, and an interrupt (``KeyboardInterrupt``) part way, are
simulated the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
import retroprop.atomic
from helpers import fail_os_call, fail_writes_after
from retroprop.atomic import write_bytes, write_text
from retroprop.cli import main


def _model(seed: int) -> rp.Model:
    return rp.Model(rp.mlp([4, 4, 3, 3], seed=seed), class_names=["a", "b", "c"])


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    rp.save(_model(0), path)
    return path, path.read_bytes()


def _size_of_a_save(tmp_path) -> int:
    probe = tmp_path.parent / (tmp_path.name + "-probe.safetensors")
    rp.save(_model(1), probe)
    size = probe.stat().st_size
    probe.unlink()
    return size


def _intact(path, before: bytes) -> None:
    assert path.read_bytes() == before
    model = rp.load(path)
    np.testing.assert_array_equal(
        model.net.state_dict()["0.weight"], _model(0).net.state_dict()["0.weight"]
    )
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp


def test_a_save_failing_after_any_number_of_bytes_keeps_the_old_file(
    saved, tmp_path, monkeypatch
):
    path, before = saved
    size = _size_of_a_save(tmp_path)
    for budget in (0, 1, 7, 8, 9, 100, size // 2, size - 8, size - 1):
        with monkeypatch.context() as m:
            fail_writes_after(m, budget)
            with pytest.raises(OSError, match="No space left"):
                rp.save(_model(1), path)
        _intact(path, before)
    rp.save(_model(1), path)  # and with the disk "fixed", the save goes through
    assert path.read_bytes() != before
    rp.load(path)


def test_an_interrupt_part_way_keeps_the_old_file(saved, monkeypatch):
    path, before = saved
    fail_writes_after(monkeypatch, 200, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        rp.save(_model(1), path)
    _intact(path, before)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_fsync_or_rename_failing_keeps_the_old_file(saved, monkeypatch, step):
    path, before = saved
    fail_os_call(monkeypatch, step)
    with pytest.raises(OSError, match=f"{step} failed"):
        rp.save(_model(1), path)
    _intact(path, before)


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    fail_writes_after(monkeypatch, 100)
    with pytest.raises(OSError, match="No space left"):
        rp.save(_model(1), tmp_path / "new.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("write", "content"),
    [(write_text, "x,y\n" * 1000), (write_bytes, b"\x00\x01" * 1000)],
)
def test_text_and_byte_writers_keep_the_old_file(tmp_path, monkeypatch, write, content):
    """write_text / write_bytes: what CSV, JSON, HTML, PNG and xlsx outputs use."""
    path = tmp_path / "out"
    write(path, content[:10])
    before = path.read_bytes()
    for budget in (0, 5, len(content) // 2, len(content) - 1):
        with monkeypatch.context() as m:
            fail_writes_after(m, budget)
            with pytest.raises(OSError, match="No space left"):
                write(path, content)
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["out"]
    write(path, content)
    assert path.read_bytes() == (
        content.encode() if isinstance(content, str) else content
    )


def test_cli_record_bias_and_save_failing_keep_old_files(tmp_path, monkeypatch, capsys):
    bias, model = tmp_path / "bias.csv", tmp_path / "m.safetensors"
    bias.write_text("old bias\n")
    rp.save(_model(0), model)
    old_model = model.read_bytes()
    fail_writes_after(monkeypatch, 50)
    with pytest.raises(SystemExit) as info:
        main(
            [
                "train",
                "-q",
                "--epochs",
                "1",
                "--record-bias",
                str(bias),
                "--save",
                str(model),
            ]
        )
    assert info.value.code == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "No space left on device" in err
    assert bias.read_text() == "old bias\n"
    assert model.read_bytes() == old_model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bias.csv", "m.safetensors"]
