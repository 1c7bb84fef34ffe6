"""ReLU networks: trained on digits, checked by finite differences, kinks counted, and every tool works on them."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import sgdlab as sl
from sgdlab import theory
from sgdlab.experiments.compare import compare


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits, pixels scaled to [0, 1]; a stratified 75/25 split with random_state=0."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def network(digits):
    X_train, _, y_train, _ = digits
    return sl.mlp(X_train, y_train, hidden=(64,), seed=0)


def test_shuffled_minibatch_sgd_learns_digits(digits, network):
    X_train, X_test, y_train, y_test = digits
    result = sl.minimize(network, sampler=sl.shuffled_cyclic(32), step=0.1, epochs=30, seed=0)
    assert network.accuracy(result.params, X_train, y_train) >= 0.97
    assert network.accuracy(result.params, X_test, y_test) >= 0.94
    zeros = result.history.zero_preactivations
    assert len(zeros) == 31 and zeros.max() == 0   # the iterates never sat on a kink


def test_adam_trains_the_network(digits, network):
    X_train, X_test, y_train, y_test = digits
    result = sl.minimize(network, sampler=sl.shuffled_cyclic(32), optimizer=optax.adam(1e-3), epochs=30, seed=0)
    assert network.accuracy(result.params, X_train, y_train) >= 0.97
    assert network.accuracy(result.params, X_test, y_test) >= 0.94


def test_initialization_and_shapes():
    X, y = np.random.default_rng(0).normal(size=(4000, 50)), np.arange(4000) % 3
    network = sl.mlp(X, y, hidden=(200, 30), seed=5)
    assert [layer["W"].shape for layer in network.params0] == [(50, 200), (200, 30), (30, 3)]
    W = np.asarray(network.params0[0]["W"])
    assert W.std() == pytest.approx(np.sqrt(2 / 50), rel=0.02)   # He: variance 2/fan_in (10,000 draws)
    assert all(np.all(np.asarray(layer["b"]) == 0) for layer in network.params0)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    network = sl.mlp(X, y, hidden=(5, 3), task="regression", seed=2)
    params = network.params0
    grad = network.grad(params)
    direction = jax.tree.map(lambda leaf: jnp.asarray(rng.normal(size=leaf.shape)), params)
    h = 1e-6
    plus = network.loss(jax.tree.map(lambda p, d: p + h * d, params, direction))
    minus = network.loss(jax.tree.map(lambda p, d: p - h * d, params, direction))
    directional = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction), strict=True))
    assert float(directional) == pytest.approx(float(plus - minus) / (2 * h), rel=1e-6)


def test_regression_fits_a_smooth_function():
    x = np.linspace(-2, 2, 200)[:, None]
    network = sl.mlp(x, np.sin(2 * x[:, 0]), hidden=(32, 32), task="regression", seed=0)
    result = sl.minimize(network, sampler=sl.shuffled_cyclic(16), optimizer=optax.adam(1e-2), epochs=300)
    assert np.max(np.abs(network.predict(result.params, x) - np.sin(2 * x[:, 0]))) < 0.1


def test_zero_preactivations_are_counted():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    network = sl.mlp(X, [0, 1, 1], hidden=(2,), seed=0)
    params = [{"W": jnp.array([[1.0, 0.0], [0.0, 0.0]]), "b": jnp.zeros(2)}, network.params0[1]]
    # z = (x₁, 0) for every x: unit 2 is 0 at all three inputs, unit 1 at the second input
    assert float(network.diagnostics(params, network.data)["zero_preactivations"]) == 4


def test_every_tool_works_on_a_network(digits, network):
    check = sl.check_step(network, 0.1)
    assert check.verdict.startswith("no certified L for MLP") and check.theorem is None
    assert pytest.approx(sl.theory.curvature(network, network.params0).sharpness, rel=1e-8) == check.L
    assert check.limit == pytest.approx(2 / check.L)
    comparison = compare(network, {"rr": dict(sampler=sl.shuffled_cyclic(32), step=0.1),
                                   "sgd": dict(sampler=sl.with_replacement(32), step=sl.inverse_sqrt(0.2))},
                         seeds=2, epochs=2)
    assert "zero_preactivations" in comparison.table.columns and set(comparison.table.status) == {"max_epochs"}
    assert theory.unbiasedness(network, sl.without_replacement(16), draws=500).unbiased


@pytest.mark.parametrize("call, error, text", [
    (lambda: sl.mlp(np.ones((3, 2)), [0, 1, 1], hidden=(4, 0)), ValueError, "hidden must be a tuple of layer widths, each an integer >= 1; got (4, 0)"),
    (lambda: sl.mlp(np.ones((3, 2)), [0, 1, 1], hidden=-2), ValueError, "hidden must be a tuple of layer widths"),
    (lambda: sl.mlp(np.ones((3, 2)), [0, 1, 5], classes=[0, 1]), ValueError, "y must be labels among the classes [0, 1]; got labels [5] outside them"),
    (lambda: sl.mlp(np.ones((3, 2)), [0, 1, 1], task="ranking"), ValueError, "task must be one of classification, regression; got 'ranking'"),
    (lambda: sl.mlp(np.ones((3, 2)), [0, 0, 0]), ValueError, "y must be labels of at least 2 classes for classification"),
])
def test_bad_networks(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()


def test_accuracy_refuses_labels_outside_the_classes(network, digits):
    X_train, _, _, _ = digits
    with pytest.raises(ValueError, match=re.escape("y must be labels among the classes")):
        network.accuracy(network.params0, X_train[:3], [0, 1, 12])
