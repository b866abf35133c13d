"""The engine's public API: SGD's validation, initialisers, seeds, dtypes, state dicts."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp

# SGD ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"momentum": -0.5}, "momentum"),
        ({"momentum": float("nan")}, "momentum"),
        ({"dampening": -1.0}, "dampening"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"momentum": True}, "momentum"),
        ({"lr": np.bool_(True)}, "lr"),
        ({"nesterov": True}, "Nesterov"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
    ],
)
def test_sgd_rejects_bad_arguments(kwargs, names):
    net = rp.mlp([2, 2], seed=0)
    with pytest.raises(rp.ConfigError) as e:
        rp.SGD(net.parameters(), **kwargs)
    assert names in str(e.value)


def test_sgd_rejection_message_names_the_value_received():
    with pytest.raises(
        rp.ConfigError, match=r"lr must be a finite number >= 0, got -0.1"
    ):
        rp.SGD(rp.mlp([2, 2]).parameters(), lr=-0.1)


def test_sgd_accepts_numpy_numbers():
    opt = rp.SGD(rp.mlp([2, 2]).parameters(), lr=np.int64(1), momentum=np.float32(0.5))
    assert opt.lr == 1.0 and opt.momentum == 0.5


def test_sgd_plain_step_is_w_minus_lr_grad():
    net = rp.mlp([3, 2], seed=0)
    before = net.state_dict()
    grads = {name: np.full(p.shape, 0.5) for name, p in net.named_parameters()}
    for name, p in net.named_parameters():
        p.grad = grads[name].copy()
    opt = rp.SGD(net.parameters(), lr=0.1)
    opt.step()
    for name, v in net.state_dict().items():
        np.testing.assert_allclose(v, before[name] - 0.1 * 0.5, atol=1e-15)
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    opt.step()  # parameters without a gradient are left alone, as torch does
    for name, v in net.state_dict().items():
        np.testing.assert_allclose(v, before[name] - 0.05, atol=1e-15)


def test_sgd_momentum_by_hand():
    # torch.optim.SGD with momentum 0.9, lr 0.1, gradient always 1:
    # step 1: buf = g = 1;             w = 0 - 0.1*1 = -0.1
    # step 2: buf = 0.9*1 + 1 = 1.9;   w = -0.1 - 0.19 = -0.29
    # step 3: buf = 0.9*1.9 + 1 = 2.71; w = -0.29 - 0.271 = -0.561
    p = rp.Parameter(np.zeros(1))
    opt = rp.SGD([p], lr=0.1, momentum=0.9)
    for expected in (-0.1, -0.29, -0.561):
        p.grad = np.ones(1)
        opt.step()
        assert p.data[0] == pytest.approx(expected, abs=1e-15)


# Initialisation ----------------------------------------------------------------------


def test_torch_init_is_uniform_in_plus_minus_one_over_sqrt_fan_in():
    lin = rp.Linear(64, 200, init="torch", seed=0)
    bound = 1 / np.sqrt(64)  # 0.125
    for p in (lin.weight.data, lin.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound  # fills the interval, not a narrower one
    w = lin.weight.data.ravel()
    # Uniform(-b, b): mean 0, variance b^2 / 3; 12800 draws.
    assert abs(w.mean()) < 0.01 * bound * 3
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.05)


def test_torch_init_bound_is_torchs_own():
    """torch.nn.Linear's default init draws from the same interval."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Linear(64, 200, dtype=torch.float64)
    ours = rp.Linear(64, 200, init="torch", seed=0)
    for theirs, mine in ((t.weight, ours.weight.data), (t.bias, ours.bias.data)):
        theirs = np.abs(theirs.detach().numpy())
        assert theirs.max() <= 1 / 8 and np.abs(mine).max() <= 1 / 8
        # Same spread: both maxima are within 5% of the bound 1/sqrt(64) = 0.125.
        assert theirs.max() > 0.95 / 8 and np.abs(mine).max() > 0.95 / 8


@pytest.mark.parametrize(
    ("activation", "factor"), [("sigmoid", 2.0), ("tanh", 6.0), ("relu", 6.0)]
)
def test_glorot_init_bounds_follow_scikit_learn(activation, factor):
    net = rp.mlp([30, 50, 20], activation, init="glorot", seed=1)
    for lin in net.linears:
        bound = np.sqrt(factor / (lin.in_features + lin.out_features))
        w = lin.weight.data
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.95 * bound
        assert np.abs(lin.bias.data).max() <= bound


def test_init_and_sizes_are_validated():
    with pytest.raises(rp.ConfigError, match="init must be one of"):
        rp.mlp([2, 2], init="xavier")
    with pytest.raises(rp.ConfigError, match="activation must be one of"):
        rp.mlp([2, 2, 2], activation="softplus")
    with pytest.raises(rp.ConfigError, match="sizes"):
        rp.mlp([4])
    with pytest.raises(rp.ConfigError, match="sizes"):
        rp.mlp([4, 0, 3])
    with pytest.raises(rp.ConfigError, match="in_features"):
        rp.Linear(0, 3)
    with pytest.raises(rp.ConfigError, match="dtype"):
        rp.Linear(2, 3, dtype=np.int32)


# Seeds -------------------------------------------------------------------------------


def test_int_seed_is_reproducible_and_seeds_differ():
    a, b, c = (
        rp.mlp([4, 4, 3, 3], seed=7),
        rp.mlp([4, 4, 3, 3], seed=7),
        rp.mlp([4, 4, 3, 3], seed=8),
    )
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert any(
        not np.array_equal(v, c.state_dict()[k]) for k, v in a.state_dict().items()
    )


def test_generator_seed_is_reproducible_and_consumed():
    a = rp.mlp([4, 4, 3], seed=np.random.default_rng(3))
    b = rp.mlp([4, 4, 3], seed=np.random.default_rng(3))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    rng = np.random.default_rng(3)
    first, second = rp.mlp([4, 4, 3], seed=rng), rp.mlp([4, 4, 3], seed=rng)
    # One generator passed twice goes on drawing: the two networks differ.
    assert not np.array_equal(first[0].weight.data, second[0].weight.data)


def test_layers_get_different_draws():
    net = rp.mlp([3, 3, 3], seed=0)
    assert not np.array_equal(net[0].weight.data, net[2].weight.data)


# dtype -------------------------------------------------------------------------------


def test_float32_network_stays_float32():
    net = rp.mlp([4, 5, 3], "tanh", seed=0, dtype=np.float32)
    assert net.dtype == np.float32
    assert all(p.data.dtype == np.float32 for p in net.parameters())
    X = np.random.default_rng(0).normal(size=(6, 4))  # float64 in: converted
    ce = rp.CrossEntropyLoss()
    out = net(X)
    assert out.dtype == np.float32
    ce(out, np.array([0, 1, 2, 0, 1, 2]))
    dX = net.backward(ce.backward())
    assert dX.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    rp.SGD(net.parameters(), lr=0.1).step()
    assert all(p.data.dtype == np.float32 for p in net.parameters())


def test_float64_is_the_default():
    assert rp.mlp([2, 2]).dtype == np.float64
    assert rp.Linear(2, 2).weight.data.dtype == np.float64


# State dicts -------------------------------------------------------------------------


def torch_sequential(net: rp.Sequential):
    torch = pytest.importorskip("torch")
    mods = []
    for m in net:
        if isinstance(m, rp.Linear):
            mods.append(
                torch.nn.Linear(
                    m.in_features,
                    m.out_features,
                    bias=m.bias is not None,
                    dtype=torch.float64,
                )
            )
        else:
            mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("sizes", [[4, 4, 3, 3], [2, 5], [3, 1, 4, 2, 6]])
def test_state_dict_names_and_shapes_match_torch(sizes):
    net = rp.mlp(sizes, "sigmoid", seed=0)
    tnet = torch_sequential(net)
    ours, theirs = net.state_dict(), tnet.state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        assert ours[k].shape == tuple(theirs[k].shape)
    if sizes == [4, 4, 3, 3]:
        assert list(ours) == [
            "0.weight",
            "0.bias",
            "2.weight",
            "2.bias",
            "4.weight",
            "4.bias",
        ]
        assert ours["0.weight"].shape == (4, 4) and ours["2.weight"].shape == (3, 4)
    names = [n for n, _ in net.named_parameters()]
    assert names == list(ours)


def test_state_dict_is_a_copy():
    net = rp.mlp([2, 2], seed=0)
    sd = net.state_dict()
    sd["0.weight"][:] = 99.0
    assert not np.any(net[0].weight.data == 99.0)


def test_load_state_dict_from_torch_tensors_and_back():
    torch = pytest.importorskip("torch")
    net = rp.mlp([4, 4, 3, 3], seed=0)
    tnet = torch_sequential(net)
    # torch -> retroprop, tensors accepted as they are.
    net.load_state_dict(tnet.state_dict())
    for k, v in tnet.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[k], v.numpy())
    # retroprop -> torch.
    other = rp.mlp([4, 4, 3, 3], seed=5)
    tnet.load_state_dict(
        {k: torch.from_numpy(v) for k, v in other.state_dict().items()}
    )
    for k, v in tnet.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), other.state_dict()[k])
    # Loaded arrays are copies: changing the source does not change the network.
    src = other.state_dict()
    net.load_state_dict(src)
    src["0.bias"][:] = 42.0
    assert not np.any(net[0].bias.data == 42.0)


def test_load_state_dict_converts_to_the_network_dtype():
    net = rp.mlp([2, 3], seed=0, dtype=np.float32)
    net.load_state_dict(
        {
            k: v.astype(np.float64)
            for k, v in rp.mlp([2, 3], seed=1).state_dict().items()
        }
    )
    assert all(p.data.dtype == np.float32 for p in net.parameters())


@pytest.mark.parametrize("change", ["missing", "unexpected", "shape", "renamed"])
def test_mismatched_state_dict_raises_and_changes_nothing(change):
    net = rp.mlp([4, 4, 3, 3], seed=0)
    before = net.state_dict()
    sd = rp.mlp([4, 4, 3, 3], seed=1).state_dict()
    if change == "missing":
        del sd["4.bias"]
    elif change == "unexpected":
        sd["6.weight"] = np.zeros((3, 3))
    elif change == "shape":
        sd["2.weight"] = np.zeros((4, 3))
    else:
        sd["1.weight"] = sd.pop("0.weight")
    with pytest.raises(rp.ConfigError) as e:
        net.load_state_dict(sd)
    assert {
        "missing": "4.bias",
        "unexpected": "6.weight",
        "shape": "2.weight",
        "renamed": "0.weight",
    }[change] in str(e.value)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_sequential_rejects_non_modules_and_linear_checks_input_shape():
    with pytest.raises(rp.ConfigError, match="item 1"):
        rp.Sequential(rp.Linear(2, 2), "sigmoid")
    with pytest.raises(rp.ConfigError, match=r"expects input of shape \(n, 4\)"):
        rp.mlp([4, 3])(np.ones((2, 5)))
