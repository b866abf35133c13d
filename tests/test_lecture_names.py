"""The lecture's names: layers keep the names they came with (``fc1.weight``...),
in the network, its model file, the torch round trip, the trace and every view."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LECTURE_NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
LECTURE_NAMES += ["fc3.weight", "fc3.bias"]


def _named_net(seed: int = 0):
    return rp.mlp([4, 4, 3, 3], seed=seed, names=["fc1", "fc2", "fc3"])


def test_mlp_names_its_linear_layers_and_keeps_its_numbers():
    named, plain = _named_net(), rp.mlp([4, 4, 3, 3], seed=0)
    assert list(named.state_dict()) == LECTURE_NAMES
    assert list(plain.state_dict()) == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
        "4.weight",
        "4.bias",
    ]
    # names change nothing but the names: same values from the same seed
    for a, b in zip(named.state_dict().values(), plain.state_dict().values()):
        np.testing.assert_array_equal(a, b)
    assert named.parameter_name(4, "bias") == "fc3.bias"


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["fc1", "fc2"], "one name per Linear layer (3"),
        ("fc1", "one name per Linear layer"),
        (["fc1", "fc1", "fc3"], "more than once"),
        (["fc1", "", "fc3"], "non-empty string"),
    ],
)
def test_bad_names_are_refused_clearly(names, says):
    with pytest.raises(ConfigError, match=says.replace("(", r"\(")):
        rp.mlp([4, 4, 3, 3], names=names)


def test_names_survive_the_model_file(tmp_path):
    net = _named_net(3)
    rp.save(rp.Model(net, class_names=["a", "b", "c"]), tmp_path / "m.safetensors")
    back = rp.load(tmp_path / "m.safetensors").net
    assert list(back.state_dict()) == LECTURE_NAMES
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v)


def test_names_survive_training_on_every_engine():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), np.arange(30) % 3
    for engine in ("numpy", "auto"):
        net, plain = _named_net(1), rp.mlp([4, 4, 3, 3], seed=1)
        rp.train(net, X, y, epochs=2, lr=0.1, engine=engine)
        rp.train(plain, X, y, epochs=2, lr=0.1, engine=engine)
        assert list(net.state_dict()) == LECTURE_NAMES
        for a, b in zip(net.state_dict().values(), plain.state_dict().values()):
            np.testing.assert_array_equal(a, b)


@pytest.fixture
def lecture_class():
    pytest.importorskip("torch")
    sys.path.insert(0, str(EXAMPLES))
    try:
        from lecture_pytorch import NeuralNetwork
    finally:
        sys.path.remove(str(EXAMPLES))
    return NeuralNetwork


def test_the_lecture_class_keeps_fc1_to_fc3_both_ways(lecture_class):
    import torch

    from retroprop.torch import from_torch, to_torch

    torch.manual_seed(0)
    net = from_torch(lecture_class().double())
    assert list(net.state_dict()) == LECTURE_NAMES
    back = to_torch(net)
    assert list(back.state_dict()) == LECTURE_NAMES
    assert list(from_torch(back).state_dict()) == LECTURE_NAMES


def test_trace_tables_and_pages_use_the_names(lecture_class):
    import torch

    from retroprop.report import trace_html
    from retroprop.torch import from_torch

    torch.manual_seed(0)
    net = from_torch(lecture_class().double())
    t = rp.explain_step(net, np.array([0.1, -0.2, 0.3, 0.4]), 2)
    assert [layer.name for layer in t.layers] == ["fc1", "fc2", "fc3"]
    assert [layer.label for layer in t.layers] == [
        "fc1 (hidden layer 1)",
        "fc2 (hidden layer 2)",
        "fc3 (output layer)",
    ]
    assert t.parameter("fc3.bias", 0).name == "fc3.bias"
    text, md = t.to_text(width=250), t.to_markdown()
    for view in (text, md, t.to_csv()):
        assert "fc3.bias" in view and "fc1.weight" in view
        assert "4.bias" not in view
    for view in (text, md):
        assert "fc1 (hidden layer 1) forward" in view
        assert "fc3 (output layer) backward: biases fc3.bias" in view
    d = json.loads(t.to_json())
    assert [layer["label"] for layer in d["layers"]] == [
        "fc1 (hidden layer 1)",
        "fc2 (hidden layer 2)",
        "fc3 (output layer)",
    ]
    page = trace_html(t)
    assert '"label": "fc1 (hidden layer 1)"' in page or "fc1 (hidden layer 1)" in page
    assert "fc3.bias" in page


def test_xlsx_labels_use_the_names(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    t = rp.explain_step(_named_net(), np.array([0.1, -0.2, 0.3, 0.4]), 1)
    t.to_xlsx(tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    cells = [
        str(c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    ]
    assert any("fc1 (hidden layer 1)" in c for c in cells)
    assert any("fc3 (output layer)" in c for c in cells)
    assert not any(c.startswith("layer 0") for c in cells)


def test_a_wrong_parameter_name_lists_the_valid_ones():
    t = rp.explain_step(_named_net(), np.array([0.1, -0.2, 0.3, 0.4]), 1)
    with pytest.raises(KeyError) as e:
        t.parameter("4.bias", 0)
    msg = str(e.value)
    for name in LECTURE_NAMES:
        assert name in msg
    assert "fc3.bias [3]" in msg
    with pytest.raises(KeyError) as e:
        t.parameter("fc3.bias", 9)
    assert "shape is [3]" in str(e.value) and "0..2" in str(e.value)
    with pytest.raises(KeyError) as e:
        t.parameter("fc1.weight", 1)
    assert "takes 2 number(s)" in str(e.value)
