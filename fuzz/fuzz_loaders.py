"""Coverage-guided fuzzing of the two loaders of strangers' files, with atheris.

``load_csv`` may only succeed or raise ``DataError``; ``rp.load`` may only succeed or
raise ``ModelFileError``. Anything else (another exception, a crash, a hang, running
out of memory) is a finding: atheris stops and writes the input to ``crash-*``.
The test suite runs the same property briefly with hypothesis
(tests/test_hardening_fuzz.py); this is for longer runs.

    pip install atheris
    python fuzz/fuzz_loaders.py seed fuzz/corpus            # valid files to start from
    python fuzz/fuzz_loaders.py csv fuzz/corpus/csv -max_total_time=600
    python fuzz/fuzz_loaders.py model fuzz/corpus/model -max_total_time=600 -rss_limit_mb=1024

Arguments after the target are libFuzzer's (``-runs=N``, ``-max_len=N``,
``-timeout=S``, ``-jobs=N``, a corpus folder...). A finding is replayed with
``python fuzz/fuzz_loaders.py model crash-<hash>``.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile

import atheris
import numpy as np

with atheris.instrument_imports(include=["retroprop"]):
    import retroprop as rp
    from retroprop.datasets import load_csv

_FOLDER = tempfile.mkdtemp(prefix="retroprop-fuzz-")


def _write(name: str, data: bytes) -> str:
    path = os.path.join(_FOLDER, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def fuzz_csv(data: bytes) -> None:
    path = _write("input.csv", data)
    with (
        np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"),
        contextlib.suppress(rp.DataError),
    ):
        load_csv(path)


def fuzz_model(data: bytes) -> None:
    path = _write("input.safetensors", data)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            model = rp.load(path)
        except rp.ModelFileError:
            return
        model.predict_proba(np.zeros((1, model.net.in_features)))


def model_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    """Mostly mutate the JSON header and keep its length prefix right, so that
    mutations get past the first check; sometimes mutate the raw bytes."""
    if seed % 4 == 0 or len(data) < 8:
        return atheris.Mutate(data, max_size)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        return atheris.Mutate(data, max_size)
    head, rest = data[8 : 8 + n], data[8 + n :]
    head = atheris.Mutate(head, max(len(head) * 2, 64))
    return (struct.pack("<Q", len(head)) + head + rest)[:max_size]


def write_seeds(folder: str) -> None:
    """A valid CSV and a valid model file, the starting corpus."""
    os.makedirs(os.path.join(folder, "csv"), exist_ok=True)
    os.makedirs(os.path.join(folder, "model"), exist_ok=True)
    ds = rp.datasets.load_iris()
    rows = [",".join([*ds.feature_names, "species"])]
    rows += [
        ",".join([*map(repr, x), ds.class_names[c]])
        for x, c in zip(ds.X[::10].tolist(), ds.y[::10])
    ]
    with open(os.path.join(folder, "csv", "iris.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    model = rp.Model(
        rp.mlp([4, 4, 3, 3], seed=0),
        class_names=ds.class_names,
        feature_names=ds.feature_names,
        standardizer=rp.datasets.Standardizer().fit(ds.X),
    )
    rp.save(model, os.path.join(folder, "model", "iris.safetensors"))


def main() -> None:
    targets = {"csv": fuzz_csv, "model": fuzz_model}
    if len(sys.argv) >= 2 and sys.argv[1] == "seed":
        write_seeds(sys.argv[2] if len(sys.argv) > 2 else "fuzz/corpus")
        return
    if len(sys.argv) < 2 or sys.argv[1] not in targets:
        sys.exit(
            f"usage: {sys.argv[0]} seed [FOLDER] | {{csv,model}} "
            f"[libFuzzer options] [corpus folder]"
        )
    target = sys.argv.pop(1)
    extra = {"custom_mutator": model_mutator} if target == "model" else {}
    atheris.Setup(sys.argv, targets[target], **extra)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
