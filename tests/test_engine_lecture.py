"""The lecture's identities, worked by hand with the arithmetic in comments.

- ``L = -ln(p_r)``, with the slides' number ``-ln(0.1732) = 1.7533``;
- at the last layer ``dL/db_i = p_i - 1`` for the true class ``r``, ``p_i`` otherwise;
- ``dL/dW_ij = (p_i - delta_ri) * a_j``, ``a_j`` the previous layer's output;
- ``sigmoid'(z) = a (1 - a)``;
- a 2-2-2 network worked through one forward pass, one backward pass and one update;
- the step function: its forward works, backpropagating through it does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp

LN3 = math.log(3.0)


def test_cross_entropy_is_minus_ln_p_r_with_the_slides_number():
    # Choose logits whose softmax is exactly (0.5, 0.1732, 0.3268): y_i = ln q_i gives
    # p_i = q_i / (0.5 + 0.1732 + 0.3268) = q_i / 1 = q_i.
    q = np.array([0.5, 0.1732, 0.3268])
    logits = np.log(q).reshape(1, 3)
    loss = rp.CrossEntropyLoss()(logits, np.array([1]))  # true class: Versicolour
    # L = -ln(p_r) = -ln(0.1732) = 1.75333... (the slides print 1.7533)
    assert loss == pytest.approx(-math.log(0.1732), abs=1e-14)
    assert round(loss, 4) == 1.7533


def test_softmax_of_a_hand_example():
    # Logits (0, ln 3): e^0 = 1, e^{ln 3} = 3, sum 4, so p = (1/4, 3/4).
    ce = rp.CrossEntropyLoss()
    loss = ce(np.array([[0.0, LN3]]), np.array([0]))
    np.testing.assert_allclose(ce.p, [[0.25, 0.75]], atol=1e-15)
    assert loss == pytest.approx(math.log(4.0), abs=1e-15)  # -ln(1/4) = ln 4


def test_last_layer_bias_and_weight_gradients_are_the_lecture_formulas():
    """On the lecture's 4-4-3-3 network, one sample: the slide's two identities."""
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=0)
    x = np.array([[5.1, 3.5, 1.4, 0.2]])  # the first Iris flower, unscaled
    for r in range(3):
        ce = rp.CrossEntropyLoss()
        ce(net(x), np.array([r]))
        net.zero_grad()
        net.backward(ce.backward())
        p = ce.p[0]
        expected_b = p.copy()
        expected_b[r] = p[r] - 1.0  # dL/db_i = p_i - 1 for i = r, p_i otherwise
        np.testing.assert_allclose(net[4].bias.grad, expected_b, rtol=0, atol=1e-15)
        a_prev = net[3].a[0]  # the second sigmoid's output: out^(L-1)
        # dL/dW_ij = (p_i - delta_ri) * out_j^(L-1)
        np.testing.assert_allclose(
            net[4].weight.grad, np.outer(expected_b, a_prev), rtol=0, atol=1e-15
        )
        assert np.all(a_prev > 0) and np.all(a_prev < 1)


def test_last_layer_bias_gradient_is_the_batch_mean_of_the_per_sample_ones():
    net = rp.mlp([4, 4, 3, 3], "sigmoid", seed=3)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 1, 0])
    ce = rp.CrossEntropyLoss()
    ce(net(X), y)
    net.backward(ce.backward())
    per_sample = ce.p - np.eye(3)[y]
    np.testing.assert_allclose(net[4].bias.grad, per_sample.mean(axis=0), atol=1e-15)


def test_sigmoid_derivative_is_a_times_one_minus_a():
    s = rp.Sigmoid()
    z = np.array([[0.0, LN3, -LN3, 2.0]])
    a = s(z)
    # sigmoid(0) = 1/2; sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-ln 3) = 1/4.
    np.testing.assert_allclose(a[0, :3], [0.5, 0.75, 0.25], atol=1e-15)
    # sigmoid'(0) = 1/2 * 1/2 = 1/4; sigmoid'(+-ln 3) = 3/4 * 1/4 = 3/16.
    np.testing.assert_allclose(
        s.derivative()[0, :3], [0.25, 3 / 16, 3 / 16], atol=1e-15
    )
    np.testing.assert_allclose(s.derivative(), a * (1 - a), atol=0)
    # And it is the derivative: compare with e^-z / (1 + e^-z)^2 at z = 2.
    assert s.derivative()[0, 3] == pytest.approx(
        math.exp(-2) / (1 + math.exp(-2)) ** 2, rel=1e-14
    )


def test_sigmoid_saturates_without_overflow():
    a = rp.Sigmoid()(np.array([[-1e4, -800.0, 800.0, 1e4]]))
    np.testing.assert_array_equal(a, [[0.0, 0.0, 1.0, 1.0]])


def hand_network() -> rp.Sequential:
    """The 2-2-2 network of the worked example below."""
    net = rp.Sequential(rp.Linear(2, 2), rp.Sigmoid(), rp.Linear(2, 2))
    net.load_state_dict(
        {
            "0.weight": np.array([[2.0, -1.0], [1.0, 0.0]]),
            "0.bias": np.array([0.0, LN3 - 1.0]),
            "2.weight": np.array([[2.0, 0.0], [0.0, 4.0 / 3.0]]),
            "2.bias": np.array([-1.0, LN3 - 1.0]),
        }
    )
    return net


def test_two_two_two_network_worked_by_hand():
    net = hand_network()
    x = np.array([[1.0, 2.0]])
    y = np.array([0])  # the true class r = 0

    # Forward.
    # z1 = W1 x + b1 = (2*1 - 1*2 + 0, 1*1 + 0*2 + ln3 - 1) = (0, ln 3)
    # a1 = sigmoid(z1) = (1/2, 3/4)
    # z2 = W2 a1 + b2 = (2 * 1/2 - 1, 4/3 * 3/4 + ln 3 - 1) = (0, ln 3)
    # p = softmax(0, ln 3) = (1/4, 3/4);  L = -ln p_0 = -ln(1/4) = ln 4 = 1.3862943...
    ce = rp.CrossEntropyLoss()
    logits = net(x)
    np.testing.assert_allclose(net[0].a_prev, x)
    np.testing.assert_allclose(net[1].z, [[0.0, LN3]], atol=1e-15)
    np.testing.assert_allclose(net[1].a, [[0.5, 0.75]], atol=1e-15)
    np.testing.assert_allclose(logits, [[0.0, LN3]], atol=1e-15)
    loss = ce(logits, y)
    assert loss == pytest.approx(math.log(4.0), abs=1e-15)

    # Backward.
    # delta2 = dL/dz2 = p - e_r = (1/4 - 1, 3/4) = (-0.75, 0.75)
    # dL/db2 = delta2 = (-0.75, 0.75)
    # dL/dW2 = delta2 a1^T = [[-0.75*0.5, -0.75*0.75], [0.75*0.5, 0.75*0.75]]
    #                      = [[-0.375, -0.5625], [0.375, 0.5625]]
    # dL/da1 = W2^T delta2 = (2*(-0.75) + 0*0.75, 0*(-0.75) + 4/3*0.75) = (-1.5, 1)
    # delta1 = dL/da1 * a1 (1 - a1) = (-1.5 * 1/4, 1 * 3/16) = (-0.375, 0.1875)
    # dL/db1 = delta1 = (-0.375, 0.1875)
    # dL/dW1 = delta1 x^T = [[-0.375*1, -0.375*2], [0.1875*1, 0.1875*2]]
    #                     = [[-0.375, -0.75], [0.1875, 0.375]]
    # dL/dx = W1^T delta1 = (2*(-0.375) + 1*0.1875, -1*(-0.375) + 0*0.1875)
    #                     = (-0.5625, 0.375)
    net.zero_grad()
    dX = net.backward(ce.backward())
    grads = {name: p.grad for name, p in net.named_parameters()}
    np.testing.assert_allclose(grads["2.bias"], [-0.75, 0.75], atol=1e-15)
    np.testing.assert_allclose(
        grads["2.weight"], [[-0.375, -0.5625], [0.375, 0.5625]], atol=1e-15
    )
    np.testing.assert_allclose(grads["0.bias"], [-0.375, 0.1875], atol=1e-15)
    np.testing.assert_allclose(
        grads["0.weight"], [[-0.375, -0.75], [0.1875, 0.375]], atol=1e-15
    )
    np.testing.assert_allclose(dX, [[-0.5625, 0.375]], atol=1e-15)

    # One update with the lecture's eta = 0.05: w <- w - eta * dL/dw.
    # b2 <- (-1 - 0.05*(-0.75), ln3 - 1 - 0.05*0.75) = (-0.9625, ln3 - 1.0375)
    # W1[0, 1] <- -1 - 0.05*(-0.75) = -0.9625
    rp.SGD(net.parameters(), lr=0.05).step()
    np.testing.assert_allclose(net[2].bias.data, [-0.9625, LN3 - 1.0375], atol=1e-15)
    assert net[0].weight.data[0, 1] == pytest.approx(-0.9625, abs=1e-15)
    # W1[1, 1] <- 0 - 0.05 * 0.375 = -0.01875
    assert net[0].weight.data[1, 1] == pytest.approx(-0.01875, abs=1e-15)


def test_two_two_two_network_update_every_parameter():
    net = hand_network()
    ce = rp.CrossEntropyLoss()
    ce(net(np.array([[1.0, 2.0]])), np.array([0]))
    net.backward(ce.backward())
    rp.SGD(net.parameters(), lr=0.05).step()
    # Every parameter: new = old - 0.05 * (the gradients worked out above).
    expected = {
        "0.weight": [[2.0 + 0.01875, -1.0 + 0.0375], [1.0 - 0.009375, 0.0 - 0.01875]],
        "0.bias": [0.0 + 0.01875, LN3 - 1.0 - 0.009375],
        "2.weight": [
            [2.0 + 0.01875, 0.0 + 0.028125],
            [0.0 - 0.01875, 4.0 / 3.0 - 0.028125],
        ],
        "2.bias": [-1.0 + 0.0375, LN3 - 1.0 - 0.0375],
    }
    for name, value in net.state_dict().items():
        np.testing.assert_allclose(value, expected[name], atol=1e-15, err_msg=name)


def test_mse_hand_example():
    # out = (1, 3), target = (0, 1): diffs (1, 2), squares (1, 4);
    # mean = 5/2, sum = 5; dL/dout = 2*diff / 2 = (1, 2) for the mean, (2, 4) for sum.
    out, target = np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]])
    mean, total = rp.MSELoss(), rp.MSELoss("sum")
    assert mean(out, target) == 2.5 and total(out, target) == 5.0
    np.testing.assert_array_equal(mean.backward(), [[1.0, 2.0]])
    np.testing.assert_array_equal(total.backward(), [[2.0, 4.0]])


# The step function -------------------------------------------------------------------


def test_step_forward_works():
    a = rp.Step()(np.array([[-2.0, -1e-12, 0.0, 1e-12, 3.0]]))
    np.testing.assert_array_equal(a, [[0.0, 0.0, 1.0, 1.0, 1.0]])
    net = rp.mlp([4, 4, 3], "step", seed=0)
    out = net(np.ones((2, 4)))
    assert out.shape == (2, 3) and np.isfinite(out).all()


def test_step_backward_raises_and_says_why():
    net = rp.mlp([2, 3, 2], "step", seed=0)
    ce = rp.CrossEntropyLoss()
    ce(net(np.ones((1, 2))), np.array([1]))
    with pytest.raises(rp.NotDifferentiableError) as e:
        net.backward(ce.backward())
    msg = str(e.value)
    assert "derivative" in msg and "undefined" in msg and "sigmoid" in msg
    assert "\n" not in msg


def test_training_through_a_step_raises_before_any_update():
    net = rp.mlp([2, 3, 2], "step", seed=0)
    before = net.state_dict()
    X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
    with pytest.raises(rp.NotDifferentiableError, match="derivative is 0"):
        rp.train(net, X, y, epochs=1, lr=0.1)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert isinstance(rp.NotDifferentiableError("x"), rp.RetropropError)
