"""`retroprop explain --torch-model FILE.pt --torch-class module:Class`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import retroprop as rp
from retroprop.cli import main

# The lecture's own PyTorch class, as a user would have it in their folder.
LECTURE_NET = (
    Path(__file__).parents[1] / "examples" / "lecture_pytorch.py"
).read_text()


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A PyTorch user's folder: their class in lecture_net.py, the weights in model.pt."""
    (tmp_path / "lecture_net.py").write_text(LECTURE_NET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "lecture_net", raising=False)
    return tmp_path


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_torch_model_is_explained_like_the_same_retroprop_model(user_dir, capsys):
    sys.path.insert(0, str(user_dir))
    try:
        from lecture_net import NeuralNetwork
    finally:
        sys.path.remove(str(user_dir))
    torch.manual_seed(0)
    model = NeuralNetwork()  # float32, as PyTorch users have it
    torch.save(model.state_dict(), user_dir / "model.pt")

    code, out, err = run(
        [
            "explain",
            "--torch-model",
            "model.pt",
            "--torch-class",
            "lecture_net:NeuralNetwork",
            "--format",
            "json",
            "--step",
            "2",
        ],
        capsys,
    )
    assert code == 0, err
    from_torch = json.loads(out)

    # The same weights (float32 widened exactly to float64) saved as a retroprop model,
    # with the standardisation `explain` applies to Iris: the very same trace.
    from retroprop.recipe import prepare_data
    from retroprop.torch import from_torch as convert

    net = rp.mlp([4, 4, 3, 3], seed=0, names=["fc1", "fc2", "fc3"])
    net.load_state_dict(
        {k: v.astype(np.float64) for k, v in convert(model).state_dict().items()}
    )
    split = prepare_data()
    rp.save(
        rp.Model(
            net,
            class_names=list(split.dataset.class_names),
            standardizer=split.standardizer,
        ),
        user_dir / "same.rpm",
    )
    code, out, err = run(
        ["explain", "--model", "same.rpm", "--format", "json", "--step", "2"], capsys
    )
    assert code == 0, err
    same = json.loads(out)
    # each says where its weights came from; everything else is the very same
    assert same["meta"].pop("weights") == {"file": "same.rpm"}
    assert from_torch["meta"].pop("weights") == {"file": "model.pt"}
    assert same == from_torch


def test_torch_options_errors(user_dir, capsys):
    code, _, err = run(["explain", "--torch-model", "model.pt"], capsys)
    assert code == 2 and "--torch-model and --torch-class go together" in err
    torch.save({"fc1.weight": torch.zeros(4, 4)}, user_dir / "partial.pt")
    code, _, err = run(
        [
            "explain",
            "--torch-model",
            "partial.pt",
            "--torch-class",
            "lecture_net:NeuralNetwork",
        ],
        capsys,
    )
    assert code == 2 and "does not fit lecture_net:NeuralNetwork" in err
    code, _, err = run(
        [
            "explain",
            "--torch-model",
            "partial.pt",
            "--torch-class",
            "no_such_module:Net",
        ],
        capsys,
    )
    assert code == 2 and "cannot import module 'no_such_module'" in err
