"""Methods: heavy ball and Nesterov against optax.sgd(momentum=β, nesterov=…) and torch.optim.SGD fed the
same batches, the stability region on a quadratic, and methods inside compare."""

import re

import numpy as np
import pytest

import sgdlab as sl


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)) * np.array([3.0, 1.0, 1.0, 0.5, 0.2])
    return sl.least_squares(X, X @ rng.normal(size=5) + 0.1 * rng.normal(size=64))


def _torch_run(problem, sampler, lr, beta, nesterov, epochs, seed):
    """torch.optim.SGD(momentum=β, nesterov=…) on the same loss, fed sgdlab's batches in order."""
    torch = pytest.importorskip("torch")   # the bench extra
    X, y = (torch.tensor(np.asarray(array)) for array in problem.data)
    theta = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=beta, nesterov=nesterov)
    for epoch in range(epochs):
        for batch in sampler.batches(problem.n, seed=seed, epoch=epoch):
            optimizer.zero_grad()
            rows = torch.tensor(np.asarray(batch))
            (0.5 * ((X[rows] @ theta - y[rows]) ** 2).mean()).backward()
            optimizer.step()
    return theta.detach().numpy()


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(8), sl.with_replacement(4), sl.full_batch()], ids=repr)
def test_momentum_equals_torch_sgd_on_the_same_batches(problem, sampler, nesterov):
    method = sl.nesterov(0.8) if nesterov else sl.heavy_ball(0.8)
    ours = sl.minimize(problem, sampler, step=0.02, epochs=4, seed=3, method=method)
    np.testing.assert_allclose(ours.params, _torch_run(problem, sampler, 0.02, 0.8, nesterov, 4, 3),
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(8), sl.full_batch()], ids=repr)
def test_momentum_equals_optax_sgd_with_momentum(problem, sampler, nesterov):
    """optax's trace (v⁺ = g + β v, update −α v⁺, or −α (g + β v⁺) with nesterov) through the optimizer path."""
    optax = pytest.importorskip("optax")
    method = sl.nesterov(0.7) if nesterov else sl.heavy_ball(0.7)
    ours = sl.minimize(problem, sampler, step=0.03, epochs=4, seed=5, method=method)
    theirs = sl.minimize(problem, sampler, epochs=4, seed=5, optimizer=optax.sgd(0.03, momentum=0.7, nesterov=nesterov))
    np.testing.assert_allclose(ours.params, theirs.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.history.loss, theirs.history.loss, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", [sl.heavy_ball(0.6), sl.nesterov(0.6)], ids=lambda m: m.name)
def test_the_stability_limit_on_a_quadratic(problem, method):
    """Just below α = limit the run converges, just above it diverges (the top eigenvector grows)."""
    L = problem.lipschitz()
    limit = method.stability_limit(L)
    assert limit == pytest.approx(2 * 1.6 / L if method.name == "heavy_ball" else (2 + 1.2) / ((1 + 1.2) * L))
    stable = sl.minimize(problem, sl.full_batch(), step=0.99 * limit, epochs=3000, method=method)
    assert stable.history.gap.iloc[-1] < 1e-6 * stable.history.gap.iloc[0]
    with pytest.warns(sl.StepSizeWarning, match="stability limit"):
        unstable = sl.minimize(problem, sl.full_batch(), step=1.01 * limit, epochs=3000, method=method)
    assert unstable.status == "diverged"
    assert f"the stability limit of {method.describe()}" in unstable.message


def test_a_plain_method_is_the_plain_run(problem):
    plain = sl.minimize(problem, sl.shuffled_cyclic(8), step=0.02, epochs=3, method=sl.plain(), engine="jax")
    default = sl.minimize(problem, sl.shuffled_cyclic(8), step=0.02, epochs=3, engine="jax")
    np.testing.assert_array_equal(plain.params, default.params)


def test_compare_runs_methods_side_by_side(problem):
    runs = {"SGD": dict(sampler=sl.shuffled_cyclic(8), step=0.02),
            "HB": dict(sampler=sl.shuffled_cyclic(8), step=0.02, method=sl.heavy_ball(0.8)),
            "NAG": dict(sampler=sl.shuffled_cyclic(8), step=0.02, method=sl.nesterov(0.8))}
    comparison = sl.compare(problem, runs, seeds=2, epochs=3, predict=False)
    for name, method in (("HB", sl.heavy_ball(0.8)), ("NAG", sl.nesterov(0.8))):
        alone = sl.minimize(problem, sl.shuffled_cyclic(8), step=0.02, epochs=3, seed=1, method=method)
        rows = comparison.table[(comparison.table.run == name) & (comparison.table.seed == 1)]
        np.testing.assert_allclose(rows.gap.to_numpy(), alone.history.gap.to_numpy(), rtol=1e-12, atol=0)
        assert comparison.runs[name]["method"] == method.describe()
        assert "stability limit" in comparison.runs[name]["step_check"]
    assert comparison.runs["SGD"]["method"] == "plain"


@pytest.mark.parametrize("call, error, text", [
    (lambda: sl.heavy_ball(1.0), ValueError, "beta must be a number in [0, 1) for heavy_ball; got 1.0"),
    (lambda: sl.nesterov(-0.1), ValueError, "beta must be a number in [0, 1) for nesterov; got -0.1"),
    (lambda: sl.heavy_ball(float("nan")), ValueError, "beta must be a number in [0, 1) for heavy_ball; got nan"),
    (lambda: sl.heavy_ball("0.9"), TypeError, "beta must be a number in [0, 1) for heavy_ball; got '0.9'"),
])
def test_bad_momentum_is_refused(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()


def test_a_method_is_refused_with_an_optimizer_or_the_native_engine(problem):
    optax = pytest.importorskip("optax")
    with pytest.raises(ValueError, match=re.escape("method must be left out when an optax optimizer is given")):
        sl.minimize(problem, sl.cyclic(8), optimizer=optax.sgd(0.1), method=sl.heavy_ball(0.5))
    with pytest.raises(TypeError, match=re.escape("method must be a method such as sl.plain()")):
        sl.minimize(problem, sl.cyclic(8), step=0.1, method="momentum")
    assert sl.minimize(problem, sl.cyclic(8), step=0.1, method=sl.heavy_ball(0.5), engine="native").engine == "native"
    network = sl.mlp(np.eye(4), np.array([0, 1, 0, 1]), hidden=(3,))
    with pytest.raises(ValueError, match=r"the method is heavy ball .*the native loop runs plain SGD, heavy ball"):
        sl.minimize(network, sl.cyclic(2), step=0.1, method=sl.heavy_ball(0.5), engine="native")
