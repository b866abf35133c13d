"""``explain_step``: the trace is the engine's step, equals PyTorch, and shows the
lecture's factors."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

import retroprop as rp
from retroprop.explain.trace import SCHEMA

TORCH_ACT = {
    "sigmoid": lambda t, z: t.sigmoid(z),
    "tanh": lambda t, z: t.tanh(z),
    "relu": lambda t, z: t.relu(z),
    "leaky_relu": lambda t, z: t.nn.functional.leaky_relu(z, 0.01),
    "identity": lambda t, z: z,
}


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(0, 4))
    sizes = [int(s) for s in rng.integers(1, 6, size=depth + 2)]
    sizes[-1] = max(sizes[-1], 2)
    activation = str(rng.choice(sorted(TORCH_ACT)))
    loss = "cross_entropy" if seed % 3 else "mse"
    n = int(rng.choice([1, 1, 3]))
    net = rp.mlp(
        sizes,
        activation,
        seed=seed,
        output_activation="tanh" if seed % 5 == 0 else None,
    )
    x = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], size=n)
    return net, x, y, loss


def _torch_step(net, x, y, loss):
    """The same step in PyTorch autograd (float64): grads and dL/dz of each Linear."""
    torch = pytest.importorskip("torch")
    params = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in net.state_dict().items()
    }
    a = torch.tensor(x, dtype=torch.float64)
    zs, outs = [], []
    for i, m in enumerate(net):
        if isinstance(m, rp.Linear):
            a = a @ params[f"{i}.weight"].T + params[f"{i}.bias"]
            a.retain_grad()
            zs.append(a)
        else:
            a = TORCH_ACT[m.name](torch, a)
        outs.append(a)
    target = torch.tensor(y)
    if loss == "cross_entropy":
        L = torch.nn.functional.cross_entropy(a, target)
    else:
        onehot = torch.nn.functional.one_hot(target, a.shape[1]).to(torch.float64)
        L = torch.nn.functional.mse_loss(a, onehot)
    L.backward()
    return (
        L.item(),
        {k: v.grad.numpy() for k, v in params.items()},
        [z.detach().numpy() for z in zs],
        [z.grad.numpy() for z in zs],
    )


@pytest.mark.parametrize("seed", range(24))
def test_trace_matches_torch_autograd(seed):
    net, x, y, loss = _random_case(seed)
    trace = rp.explain_step(net, x, y, lr=0.1, loss=loss)
    L, grads, zs, dzs = _torch_step(net, x, y, loss)
    n = x.shape[0]
    # forward: every layer's z, and the loss
    assert len(trace.layers) == len(zs)
    for layer, z in zip(trace.layers, zs):
        np.testing.assert_allclose(layer.z, z, rtol=0, atol=1e-12)
    assert trace.loss == pytest.approx(L, abs=1e-12)
    assert trace.loss_per_sample.mean() == pytest.approx(L, abs=1e-12)
    # backward: delta = dL/dz per sample (torch's is of the batch mean: over n)
    for layer, dz in zip(trace.layers, dzs):
        np.testing.assert_allclose(layer.delta / n, dz, rtol=0, atol=1e-12)
    # gradients of every parameter
    got = trace.grads()
    assert list(got) == list(grads)
    for name in grads:
        np.testing.assert_allclose(
            got[name], grads[name], rtol=0, atol=1e-12, err_msg=name
        )


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_updated_values_are_a_real_sgd_step(seed):
    net, x, y, loss = _random_case(seed)
    before = net.state_dict()
    trace = rp.explain_step(net, x, y, lr=0.05, loss=loss)
    # explain_step leaves the network alone
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # the engine's own step, done here by hand, gives bit-identical values
    ref = copy.deepcopy(net)
    loss_fn = rp.LOSSES[loss]()
    out = ref(x)
    from retroprop.train import loss_targets

    loss_fn(out, loss_targets(y, out.shape[1], loss, out.dtype))
    ref.zero_grad()
    ref.backward(loss_fn.backward())
    grads = {k: p.grad.copy() for k, p in ref.named_parameters()}
    rp.SGD(ref.parameters(), lr=0.05).step()
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(trace.updated()[k], v)
        np.testing.assert_array_equal(trace.grads()[k], grads[k])
        np.testing.assert_array_equal(trace.values()[k], before[k])
    for p in trace.parameters:
        assert p.updated == p.value - 0.05 * p.grad


def test_lecture_identities_on_the_iris_network(iris_split):
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=1)
    x, r = iris_split.X_train[5], int(iris_split.y_train[5])
    t = rp.explain_step(net, x, r, lr=0.05)
    p = t.probabilities[0]
    # L = -ln(p_r)
    assert t.loss == pytest.approx(-math.log(p[r]), rel=1e-14)
    out_layer, hidden = t.layers[-1], t.layers[:-1]
    for i in range(3):
        f = t.parameter("4.bias", i).factors
        assert list(f) == ["dL/dp_r", "dp_r/dout_i", "dout_i/db_i", "product"]
        assert f["dL/dp_r"] == -1.0 / p[r]
        assert f["dp_r/dout_i"] == p[r] * ((i == r) - p[i])
        assert f["dout_i/db_i"] == 1.0
        # the chain's product is p_i - delta_ri: p_r - 1 for the true class, else p_i
        assert f["dL/dp_r"] * f["dp_r/dout_i"] == pytest.approx(
            p[i] - (i == r), abs=1e-15
        )
        assert f["product"] == t.parameter("4.bias", i).grad
        assert t.parameter("4.bias", i).grad == pytest.approx(
            p[i] - (i == r), abs=1e-15
        )
        for j in range(3):
            fw = t.parameter("4.weight", (i, j)).factors
            assert fw["dout_i/dw_ij"] == out_layer.a_prev[0, j]
            assert fw["product"] == pytest.approx(
                f["product"] * out_layer.a_prev[0, j], abs=1e-15
            )
    # hidden layers: backpropagated error sum_k w_ki delta_k, sigmoid' = a (1 - a)
    for layer, above in zip(hidden, t.layers[1:]):
        a = layer.a[0]
        err = above.weight.T @ above.delta[0]
        np.testing.assert_allclose(
            layer.factors["dL/dout_i"][0], err, rtol=0, atol=1e-15
        )
        np.testing.assert_array_equal(layer.factors["dout_i/dz_i"][0], a * (1 - a))
        np.testing.assert_allclose(
            layer.delta[0], err * a * (1 - a), rtol=0, atol=1e-15
        )
        for i in range(len(a)):
            f = t.parameter(layer.bias_name, i).factors
            assert list(f) == ["dL/dout_i", "dout_i/dz_i", "dz_i/db_i", "product"]
            assert f["product"] == pytest.approx(
                f["dL/dout_i"] * f["dout_i/dz_i"], abs=1e-15
            )


def test_hand_worked_example():
    # One Linear(1, 2) layer, W = [[0], [0]], b = [0, ln 3], x = 2, true class r = 0.
    # out = [0, ln 3]; p = [1, 3] / 4 = [0.25, 0.75]; L = -ln 0.25 = ln 4 = 1.3862943...
    # dL/dp_r = -1/0.25 = -4; dp_r/dout = 0.25 * ([1, 0] - [0.25, 0.75]) = [0.1875, -0.1875]
    # dL/db = -4 * [0.1875, -0.1875] = [-0.75, 0.75] = p - [1, 0]; dL/dW = 2 * that.
    # eta = 0.1: b' = [0.075, ln 3 - 0.075], W' = [[0.15], [-0.15]].
    net = rp.Sequential(rp.Linear(1, 2))
    net.load_state_dict({"0.weight": np.zeros((2, 1)), "0.bias": [0.0, math.log(3)]})
    t = rp.explain_step(net, [2.0], 0, lr=0.1)
    np.testing.assert_allclose(t.probabilities, [[0.25, 0.75]], rtol=1e-15)
    assert t.loss == pytest.approx(math.log(4), rel=1e-15)
    f0 = t.parameter("0.bias", 0).factors
    assert f0["dL/dp_r"] == pytest.approx(-4.0, rel=1e-15)
    assert f0["dp_r/dout_i"] == pytest.approx(0.1875, rel=1e-15)
    assert t.parameter("0.bias", 1).factors["dp_r/dout_i"] == pytest.approx(-0.1875)
    np.testing.assert_allclose(t.grads()["0.bias"], [-0.75, 0.75], rtol=1e-15)
    np.testing.assert_allclose(t.grads()["0.weight"], [[-1.5], [1.5]], rtol=1e-15)
    np.testing.assert_allclose(
        t.updated()["0.bias"], [0.075, math.log(3) - 0.075], rtol=1e-15
    )
    np.testing.assert_allclose(t.updated()["0.weight"], [[0.15], [-0.15]], rtol=1e-15)


def test_a_batch_shows_the_mean_of_the_samples():
    net = rp.mlp([3, 4, 2], "tanh", seed=3)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)), np.array([0, 1, 1, 0])
    t = rp.explain_step(net, x, y, lr=0.05)
    singles = [rp.explain_step(net, x[s], y[s], lr=0.05) for s in range(4)]
    for k, p in enumerate(t.parameters):
        assert len(p.per_sample) == 4
        # each sample's factors are that sample's own trace's
        for s in range(4):
            for key, v in p.per_sample[s].items():
                assert v == pytest.approx(
                    singles[s].parameters[k].factors[key], abs=1e-14
                )
        assert p.factors["product"] == pytest.approx(p.grad, abs=1e-15)
        assert p.grad == pytest.approx(
            np.mean([q.parameters[k].grad for q in singles]), abs=1e-15
        )


def test_mse_factors():
    net = rp.mlp([2, 3, 2], "sigmoid", seed=0)
    x, y = np.array([[0.5, -1.0]]), np.array([1])
    t = rp.explain_step(net, x, y, loss="mse")
    out, target = t.output[0], np.array([0.0, 1.0])
    np.testing.assert_array_equal(t.target_values[0], target)
    assert t.probabilities is None
    for i in range(2):
        f = t.parameter("2.bias", i).factors
        assert list(f) == ["dL/dout_i", "dout_i/db_i", "product"]
        # per-sample L = mean_k (out_k - t_k)^2, so dL/dout_i = 2 (out_i - t_i) / k
        assert f["dL/dout_i"] == pytest.approx(2 * (out[i] - target[i]) / 2, abs=1e-15)


def test_to_dict_schema_and_json(tmp_path, iris_split):
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=1)
    t = rp.explain_step(
        net, iris_split.X_train[:1], iris_split.y_train[:1], lr=0.05, meta={"step": 1}
    )
    d = t.to_dict()
    for key in (
        "schema",
        "lr",
        "loss",
        "loss_function",
        "target",
        "probabilities",
        "layers",
        "parameters",
        "input",
        "output",
        "meta",
    ):
        assert key in d
    assert d["schema"] == SCHEMA and d["lr"] == 0.05 and d["meta"] == {"step": 1}
    assert d["target"] == [int(iris_split.y_train[0])]
    names = [p["name"] for p in d["parameters"]]
    assert sorted(set(names), key=names.index) == list(net.state_dict())
    assert len(names) == sum(v.size for v in net.state_dict().values())
    bias = [p for p in d["parameters"] if p["name"] == "4.bias"][1]
    assert bias["index"] == [1]
    assert set(bias) >= {"name", "index", "value", "grad", "updated", "factors"}
    assert [layer["name"] for layer in d["layers"]] == ["0", "2", "4"]
    path = tmp_path / "trace.json"
    text = t.to_json(path)
    assert path.read_text() == text
    assert json.loads(text) == json.loads(json.dumps(d))
    back = json.loads(text)
    for p, q in zip(back["parameters"], t.parameters):
        assert (p["value"], p["grad"], p["updated"]) == (q.value, q.grad, q.updated)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"loss": "hinge"}, rp.ConfigError, "loss must be one of"),
        ({"lr": -1.0}, rp.ConfigError, "lr must be"),
        ({"lr": float("nan")}, rp.ConfigError, "lr must be"),
        ({"x": np.zeros(3)}, rp.DataError, "x must have shape"),
        ({"y": 5}, rp.DataError, "classes 0..2"),
        ({"y": 0.5}, rp.DataError, "integer class"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, words):
    args = {"net": rp.mlp([4, 3, 3], seed=0), "x": np.zeros(4), "y": 1} | kwargs
    with pytest.raises(error, match=words):
        rp.explain_step(**args)


def test_step_activation_is_not_explained():
    net = rp.mlp([2, 2, 2], "step", seed=0)
    with pytest.raises(rp.NotDifferentiableError, match="step"):
        rp.explain_step(net, [0.1, 0.2], 0)


def test_linear_without_bias_and_linear_after_linear_match_torch():
    torch = pytest.importorskip("torch")
    net = rp.Sequential(
        rp.Linear(3, 4, bias=False, seed=1),
        rp.Linear(4, 2, seed=2),
        rp.Sigmoid(),
        rp.Linear(2, 3, seed=3),
    )
    x, y = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]]), np.array([2, 0])
    t = rp.explain_step(net, x, y, lr=0.1)
    assert [p.name for p in t.parameters].count("0.bias") == 0
    assert t.layers[0].activation is None
    w = {k: torch.tensor(v, requires_grad=True) for k, v in net.state_dict().items()}
    z0 = torch.tensor(x) @ w["0.weight"].T
    z1 = z0 @ w["1.weight"].T + w["1.bias"]
    out = torch.sigmoid(z1) @ w["3.weight"].T + w["3.bias"]
    torch.nn.functional.cross_entropy(out, torch.tensor(y)).backward()
    np.testing.assert_allclose(t.layers[0].z, z0.detach().numpy(), rtol=0, atol=1e-12)
    for k, v in t.grads().items():
        np.testing.assert_allclose(v, w[k].grad.numpy(), rtol=0, atol=1e-12, err_msg=k)
    # a hidden layer without activation: dL/dout_i = sum_k w_ki delta_k, no f'
    assert list(t.parameter("0.weight", (0, 0)).factors) == [
        "dL/dout_i",
        "dz_i/dw_ij",
        "product",
    ]


def test_a_probability_that_underflows_gives_null_in_json():
    # out = [1200, -1200, 0]: p_1 = e^-2400 / ... underflows to 0, so -1/p_r = -inf
    net = rp.Sequential(rp.Linear(1, 3))
    net.load_state_dict(
        {"0.weight": [[1200.0], [-1200.0], [0.0]], "0.bias": np.zeros(3)}
    )
    t = rp.explain_step(net, [1.0], 1)
    f = t.parameter("0.bias", 0).factors
    assert f["dL/dp_r"] == -np.inf
    assert t.parameter("0.bias", 0).grad == pytest.approx(1.0)  # p_0 - 0
    d = json.loads(t.to_json())
    assert d["parameters"][-3]["factors"]["dL/dp_r"] is None
    assert d["parameters"][-3]["grad"] == pytest.approx(1.0)
