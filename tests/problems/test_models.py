"""An Equinox module and a Flax NNX model as finite sums (sgdlab.problems.models): the same loss, gradient and runs
as the same network written by hand as a pytree of arrays; theory, compare and the report work on them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.experiments.report import write_report

eqx = pytest.importorskip("equinox")
nnx = pytest.importorskip("flax.nnx")

N, D, WIDTH = 30, 3, 6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    return X, np.sin(X @ np.array([1.0, -2.0, 0.5]))


def squared_error(model, example):
    x, y = example
    return 0.5 * (model(x)[0] - y) ** 2


def by_hand(layers, example):
    """The same ReLU network on a list of (W, b) written out: h ← relu(W h + b), then the last layer alone."""
    x, y = example
    for W, b in layers[:-1]:
        x = jax.nn.relu(W @ x + b)
    W, b = layers[-1]
    return 0.5 * ((W @ x + b)[0] - y) ** 2


def equinox_net():
    return eqx.nn.MLP(D, 1, WIDTH, 2, activation=jax.nn.relu, key=jax.random.key(1), dtype=jnp.float64)


class FlaxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(D, WIDTH, param_dtype=jnp.float64, rngs=rngs)
        self.out = nnx.Linear(WIDTH, 1, param_dtype=jnp.float64, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def hand_layers(model):
    """The model's (W, b) per layer as plain arrays, W acting on the left (Flax stores xᵀ K: W = Kᵀ)."""
    if isinstance(model, eqx.Module):
        return [(np.asarray(layer.weight), np.asarray(layer.bias)) for layer in model.layers]
    return [(np.asarray(layer.kernel[...]).T, np.asarray(layer.bias[...])) for layer in (model.hidden, model.out)]


def as_hand_layers(problem, params):
    return hand_layers(problem.model(params))


MODELS = {"equinox": equinox_net, "flax_nnx": lambda: FlaxNet(nnx.Rngs(3))}


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_a_model_gives_the_loss_gradient_and_run_of_the_network_written_by_hand(data, make):
    model = make()
    problem = sl.finite_sum(squared_error, data, model)
    hand = sl.finite_sum(by_hand, data, hand_layers(model))
    assert float(problem.loss(problem.params0)) == pytest.approx(float(hand.loss(hand.params0)), rel=1e-14)
    grads = as_hand_layers(problem, problem.grad(problem.params0))
    for (gW, gb), (hW, hb) in zip(grads, hand.grad(hand.params0), strict=True):
        np.testing.assert_allclose(gW, hW, rtol=0, atol=1e-14)
        np.testing.assert_allclose(gb, hb, rtol=0, atol=1e-14)
    run, hand_run = (sl.minimize(p, sl.shuffled_cyclic(4), 0.05, epochs=3, seed=2) for p in (problem, hand))
    np.testing.assert_allclose(run.history["loss"], hand_run.history["loss"], rtol=1e-12)
    for (W, b), (hW, hb) in zip(as_hand_layers(problem, run.params), hand_run.params, strict=True):
        np.testing.assert_allclose(W, hW, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b, hb, rtol=0, atol=1e-12)
    assert type(problem.model(run.params)) is type(model)


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_theory_maximize_and_heldout_data_work_on_a_model(data, make):
    model, (X, y) = make(), data
    problem = sl.finite_sum(squared_error, data, model)
    hand = sl.finite_sum(by_hand, data, hand_layers(model))
    assert sl.theory.hessian_norm(problem) == pytest.approx(sl.theory.hessian_norm(hand), rel=1e-8)
    assert sl.theory.noise_scale(problem).b_simple == pytest.approx(sl.theory.noise_scale(hand).b_simple, rel=1e-10)
    negated = sl.finite_sum(lambda m, example: -squared_error(m, example), data, model)
    up, down = sl.maximize(negated, "cyclic", 0.05, epochs=2), sl.minimize(problem, "cyclic", 0.05, epochs=2)
    for a, b in zip(jax.tree.leaves(up.params), jax.tree.leaves(down.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    heldout = {"test": sl.finite_sum(squared_error, (X[:7] + 1.0, y[:7]), model)}
    run = sl.minimize(problem, "cyclic", 0.05, epochs=2, heldout=heldout)
    assert float(run.history["test_loss"].iloc[-1]) == pytest.approx(float(heldout["test"].loss(run.params)))


def test_compare_and_its_report_run_on_an_equinox_model(data, tmp_path):
    problem = sl.finite_sum(squared_error, data, equinox_net())
    runs = {"RR": dict(sampler=sl.shuffled_cyclic(4), step=0.05), "SGD": dict(sampler=sl.with_replacement(4), step=0.05)}
    comparison = sl.compare(problem, runs, seeds=2, epochs=2, out=tmp_path)
    assert set(comparison.table["run"]) == {"RR", "SGD"} and comparison.table["loss"].notna().all()
    page = write_report(tmp_path).read_text()
    assert "Equinox MLP" in page and "RR" in page


def test_a_model_without_trainable_arrays_is_refused(data):
    frozen = eqx.nn.Lambda(jnp.tanh)
    with pytest.raises(TypeError, match="params0 must be a pytree with at least one array"):
        sl.finite_sum(lambda m, example: m(example[0]).sum(), data, frozen)


def test_an_integer_leaf_of_theta_is_refused_and_an_equinox_integer_field_held_as_it_is():
    """Nothing is cast: a Flax nnx.Param of integers would be θ, and is refused; Equinox leaves an integer field
    out of θ (eqx.is_inexact_array), so the run trains the floats and returns the integer unchanged."""

    class Counted(nnx.Module):
        def __init__(self):
            self.w, self.k = nnx.Param(jnp.zeros(2)), nnx.Param(jnp.array(3))

    targets = np.arange(10.0).reshape(5, 2)
    with pytest.raises(TypeError, match=r"params0 must be floating-point leaves .* got a leaf of dtype int64"):
        sl.finite_sum(lambda m, e: jnp.sum((m.w - e) ** 2), targets, Counted())

    class Scaled(eqx.Module):
        w: jax.Array
        k: jax.Array

    problem = sl.finite_sum(lambda m, e: jnp.sum((m.w * m.k - e) ** 2), targets, Scaled(jnp.zeros(2), jnp.array(3)))
    trained = problem.model(sl.minimize(problem, step=0.02, epochs=200).params)
    assert trained.k.dtype == jnp.int64 and int(trained.k) == 3
    np.testing.assert_allclose(trained.w * 3, targets.mean(0), rtol=1e-6)


@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_a_run_on_a_model_resumes_from_its_checkpoint_as_if_never_stopped(data, make, tmp_path):
    problem, checkpoint = sl.finite_sum(squared_error, data, make()), tmp_path / "run.npz"
    whole = sl.minimize(problem, sl.shuffled_cyclic(4), 0.05, epochs=4, seed=1)
    sl.minimize(problem, sl.shuffled_cyclic(4), 0.05, epochs=2, seed=1, checkpoint=checkpoint)
    resumed = sl.minimize(problem, sl.shuffled_cyclic(4), 0.05, epochs=4, seed=1, checkpoint=checkpoint, resume=True)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_array_equal(a, b)
