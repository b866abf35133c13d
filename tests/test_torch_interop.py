"""retroprop.torch: to_torch / from_torch round trips and the errors for what cannot map."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import retroprop as rp
from retroprop.torch import from_torch, load_torch_model, to_torch

EXAMPLE = Path(__file__).parents[1] / "examples" / "lecture_pytorch.py"


def _lecture_module():
    """The lecture's PyTorch code, as shipped in examples/ (one copy for all)."""
    spec = importlib.util.spec_from_file_location("lecture_pytorch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NeuralNetwork = _lecture_module().NeuralNetwork  # the lecture's Iris network


class Functional(nn.Module):
    """Every spelling of an activation a forward may use."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(3, 5), nn.Linear(5, 5), nn.Linear(5, 5)
        self.d, self.e = nn.Linear(5, 4), nn.Linear(4, 2)

    def forward(self, x):
        x = F.relu(self.a(x))
        x = self.b(x).tanh()
        x = F.leaky_relu(self.c(x), negative_slope=0.2)
        x = torch.special.expit(self.d(x))
        return self.e(x)


def _x(n=7, k=4, dtype=np.float64):
    return np.random.default_rng(0).normal(size=(n, k)).astype(dtype)


def _assert_same_parameters(net, module):
    ours = [p.data for p in net.parameters()]
    theirs = [p.detach().numpy() for p in module.parameters()]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)  # bit for bit


def test_torch_is_not_imported_by_import_retroprop_torch():
    import subprocess

    code = "import sys, retroprop.torch; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_to_torch_same_weights_activations_and_outputs(dtype):
    net = rp.mlp([4, 6, 5, 3], "tanh", seed=2, dtype=dtype)
    net.modules[3] = rp.LeakyReLU(0.3)
    module = to_torch(net)
    assert [type(m).__name__ for m in module] == [
        "Linear",
        "Tanh",
        "Linear",
        "LeakyReLU",
        "Linear",
    ]
    assert module[3].negative_slope == 0.3
    assert list(module.state_dict()) == list(net.state_dict())
    _assert_same_parameters(net, module)
    x = _x(dtype=dtype)
    tol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(
        module(torch.from_numpy(x)).detach().numpy(), net(x), rtol=0, atol=tol
    )


def test_lecture_class_round_trip_is_exact():
    torch.manual_seed(0)
    model = NeuralNetwork().double()
    net = from_torch(model)
    assert [type(m).__name__ for m in net] == [
        "Linear",
        "Sigmoid",
        "Linear",
        "Sigmoid",
        "Linear",
    ]
    _assert_same_parameters(net, model)
    x = _x()
    np.testing.assert_allclose(
        net(x), model(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=1e-15
    )
    back = to_torch(net)
    _assert_same_parameters(net, back)
    # and once more through retroprop: still the same bits
    _assert_same_parameters(from_torch(back), back)


def test_float32_model_stays_float32():
    torch.manual_seed(0)
    net = from_torch(NeuralNetwork())
    assert net.dtype == np.float32
    assert to_torch(net)[0].weight.dtype == torch.float32


def test_sequential_round_trip_from_retroprop():
    net = rp.mlp([4, 4, 3, 3], seed=5)
    again = from_torch(to_torch(net))
    assert again.config() == net.config()
    for (n1, a), (n2, b) in zip(net.state_dict().items(), again.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(a, b)


class Nested(nn.Module):
    """Layers kept in an inner nn.Sequential, one without bias."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Tanh())
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.body(x))


def test_nested_sequential_and_no_bias():
    torch.manual_seed(4)
    model = Nested().double()
    net = from_torch(model)
    assert net.config() == [
        {
            "type": "linear",
            "in_features": 4,
            "out_features": 5,
            "bias": False,
            "module_name": "body.0",
        },
        {"type": "activation", "name": "tanh"},
        {
            "type": "linear",
            "in_features": 5,
            "out_features": 3,
            "bias": True,
            "module_name": "head",
        },
    ]
    # the layers keep the model's names
    assert list(net.state_dict()) == list(model.state_dict())
    _assert_same_parameters(net, model)
    _assert_same_parameters(net, to_torch(net))
    x = _x()
    np.testing.assert_allclose(
        net(x), model(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=1e-15
    )


def test_functional_activations_are_recognised():
    torch.manual_seed(1)
    model = Functional().double()
    net = from_torch(model)
    assert [m.name for m in net if not isinstance(m, rp.Linear)] == [
        "relu",
        "tanh",
        "leaky_relu",
        "sigmoid",
    ]
    assert net[5].negative_slope == 0.2
    x = _x(k=3)
    np.testing.assert_allclose(
        net(x), model(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=1e-14
    )


def test_gradients_agree_after_import():
    """The imported network backpropagates what torch autograd computes."""
    torch.manual_seed(2)
    model = NeuralNetwork().double()
    net = from_torch(model)
    x, y = _x(), np.array([0, 1, 2, 1, 0, 2, 2])
    loss = rp.CrossEntropyLoss()
    loss(net(x), y)
    net.backward(loss.backward())
    nn.CrossEntropyLoss()(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    for p, q in zip(net.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=0, atol=1e-15)


class WithDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.drop = nn.Linear(4, 4), nn.Dropout()

    def forward(self, x):
        return self.drop(self.fc1(x))


class WithExp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        return torch.exp(self.fc1(x))


class WithSkip(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc1(x) + x


class WithBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc1(x)
        return x


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (WithDropout(), "layer 'drop' is a Dropout, which retroprop does not support"),
        (WithExp(), "operation 'exp' .* is not supported"),
        (
            WithSkip(),
            "'add' .* does not take the previous layer's output as its only input",
        ),
        (WithBranch(), "cannot trace WithBranch.forward with torch.fx"),
        (nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), "layer '1' is a Softmax"),
        (nn.Sequential(nn.ReLU()), "has no nn.Linear layer"),
    ],
)
def test_unsupported_models_name_the_layer(model, message):
    with pytest.raises(rp.ConfigError, match=message):
        from_torch(model)


def test_to_torch_refuses_the_step():
    net = rp.Sequential(rp.Linear(2, 2, seed=0), rp.Step())
    with pytest.raises(
        rp.ConfigError, match="module 1 \\(Step\\(\\)\\) has no PyTorch"
    ):
        to_torch(net)


def test_load_torch_model_from_a_state_dict(tmp_path, monkeypatch):
    (tmp_path / "lecture_net.py").write_text(EXAMPLE.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "lecture_net", raising=False)
    torch.manual_seed(3)
    model = NeuralNetwork()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    path_before = list(sys.path)
    net = load_torch_model(tmp_path / "model.pt", "lecture_net:NeuralNetwork")
    _assert_same_parameters(net, model)
    assert sys.path == path_before  # the cwd was on it only for the import
    with pytest.raises(rp.ConfigError, match="no attribute 'Nope'"):
        load_torch_model(tmp_path / "model.pt", "lecture_net:Nope")
    torch.save({"fc1.weight": torch.zeros(4, 4)}, tmp_path / "partial.pt")
    with pytest.raises(
        rp.ModelFileError, match="does not fit lecture_net:NeuralNetwork"
    ):
        load_torch_model(tmp_path / "partial.pt", "lecture_net:NeuralNetwork")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(rp.ModelFileError, match="weights_only=True"):
        load_torch_model(tmp_path / "junk.pt", "lecture_net:NeuralNetwork")


def test_missing_torch_says_how_to_install(monkeypatch):
    from retroprop.torch import TorchNotInstalledError

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(
        TorchNotInstalledError, match=re.escape('pip install "torch==2.13.0"')
    ):
        to_torch(rp.mlp([2, 2]))
