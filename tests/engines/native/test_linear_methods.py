"""Native momentum and averaging on the linear models give the JAX engine's runs (dense and CSR rows)."""

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl


@pytest.fixture(scope="module")
def problems():
    rng = np.random.default_rng(31)
    X = rng.normal(size=(50, 6))
    X[rng.random(X.shape) < 0.5] = 0.0
    y = X @ rng.normal(size=6) + 0.3 * rng.normal(size=50)
    made = {}
    for layout, rows in (("dense", X), ("csr", scipy.sparse.csr_matrix(X))):
        made[layout, "least_squares"] = sl.least_squares(rows, y)
        made[layout, "logistic"] = sl.logistic_regression(rows, (y > 0).astype(int), l2=0.1)
        made[layout, "softmax"] = sl.softmax_regression(rows, rng.integers(0, 3, size=50), l2=0.01)
    return made


SETTINGS = [dict(method=sl.heavy_ball(0.7)), dict(method=sl.nesterov(0.5)), dict(average=sl.polyak_average()),
            dict(average=sl.tail_average(0.3)), dict(average=sl.polyak_average(start=2))]


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("model", ["least_squares", "logistic", "softmax"])
@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.shuffled_cyclic(7), sl.shuffled_cyclic(50)],
                         ids=repr)   # B = 50: dense rows take the parted loop (two threads a run)
def test_native_momentum_and_averaging_equal_the_jax_engine(problems, layout, model, sampler):
    problem = problems[layout, model]
    alpha = 0.2 / problem.lipschitz_max()
    for settings in SETTINGS:
        jax_run = sl.minimize(problem, sampler, alpha, epochs=4, seed=1, engine="jax", **settings)
        native = sl.minimize(problem, sampler, alpha, epochs=4, seed=1, engine="native", **settings)
        assert native.engine == "native"
        np.testing.assert_allclose(native.params, jax_run.params, rtol=0, atol=1e-10)
        np.testing.assert_allclose(native.history.loss, jax_run.history.loss, rtol=1e-10)
        if "average" in settings:
            np.testing.assert_allclose(native.averaged_params, jax_run.averaged_params, rtol=0, atol=1e-10)
            np.testing.assert_allclose(native.history.avg_loss, jax_run.history.avg_loss, rtol=1e-10)


def test_averaging_survives_a_folded_scale(problems):
    """αλ = 0.9: the scale of W = s·V falls below 1e-9 within a few steps and is folded into V, the averaged sum
    first; the run still equals the JAX engine's."""
    dense = problems["dense", "logistic"]
    problem = sl.logistic_regression(scipy.sparse.csr_matrix(dense.X), (np.asarray(dense.y) > 0).astype(int), l2=45.0)
    runs = [sl.minimize(problem, sl.with_replacement(1), 0.02, epochs=3, average=sl.polyak_average(), engine=engine)
            for engine in ("jax", "native")]
    np.testing.assert_allclose(runs[1].averaged_params, runs[0].averaged_params, rtol=0, atol=1e-12)


def test_native_lanes_and_resume(problems, tmp_path):
    problem = problems["dense", "least_squares"]
    runs = {"hb": dict(sampler=sl.shuffled_cyclic(4), step=0.02, method=sl.heavy_ball(0.8)),
            "avg": dict(sampler=sl.with_replacement(1), step=0.02, average=sl.polyak_average(start=1))}
    comparison = sl.compare(problem, runs, seeds=3, epochs=3, predict=False)
    assert {info["engine"] for info in comparison.runs.values()} == {"native"}
    for name, settings in runs.items():
        alone = sl.minimize(problem, epochs=3, seed=2, **settings).history
        lane = comparison.table[(comparison.table.run == name) & (comparison.table.seed == 2)]
        np.testing.assert_array_equal(lane.loss.to_numpy(), alone.loss.to_numpy())
        path = tmp_path / f"{name}.npz"
        whole = sl.minimize(problem, epochs=5, seed=1, **settings)
        sl.minimize(problem, epochs=2, seed=1, checkpoint=path, **settings)
        resumed = sl.minimize(problem, epochs=5, seed=1, checkpoint=path, resume=True, **settings)
        np.testing.assert_array_equal(resumed.params, whole.params)
        if name == "avg":
            np.testing.assert_array_equal(resumed.averaged_params, whole.averaged_params)
    tail = dict(runs["avg"], average=sl.tail_average(0.5))   # its window depends on the budget: not extendable
    sl.minimize(problem, epochs=2, seed=1, checkpoint=tmp_path / "tail.npz", **tail)
    with pytest.raises(ValueError, match="saved by a run with another average"):
        sl.minimize(problem, epochs=5, seed=1, checkpoint=tmp_path / "tail.npz", resume=True, **tail)


def test_ema_and_combinations_run_on_the_jax_engine(problems):
    problem = problems["dense", "least_squares"]
    assert sl.minimize(problem, sl.cyclic(1), 0.02, epochs=1, average=sl.ema(0.9)).engine == "jax"
    assert sl.minimize(problem, sl.cyclic(1), 0.02, epochs=1, average=sl.polyak_average(),
                       method=sl.heavy_ball(0.5)).engine == "jax"
