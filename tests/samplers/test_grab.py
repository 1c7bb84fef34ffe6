"""GraB (Lu, Guo and De Sa 2022): the herded order equals a plain NumPy implementation of the paper's online
balancing with a stale mean, and the order travels with the run (lanes, pieces of epochs, checkpoints)."""

import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.engines.native.loops import HerdedNetworkLoop
from sgdlab.samplers import GrabState

from reference import grab_run, herding

N, P = 30, 4


def _least_squares(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P)) * rng.uniform(0.3, 3.0, size=(N, 1))
    return X, X @ rng.normal(size=P) + 0.5 * rng.normal(size=N)


def test_balancing_equals_the_numpy_herding_on_given_gradients():
    # The balancing step alone, on fixed gradients (no run): the same next order exactly.
    rng = np.random.default_rng(1)
    gradients, visited, mean = rng.normal(size=(N, P)), rng.permutation(N).astype(np.int32), rng.normal(size=P)
    sampler = sl.grab(1)
    state = sampler.initial_state(N, 0, np.zeros(P))._replace(mean=mean)
    observe = jax.jit(lambda state, g, i: sampler.observe(state, g[None], i[None], jnp.ones(1, dtype=bool)))
    state = jax.tree.map(jnp.asarray, state)
    for gradient, index in zip(gradients, visited, strict=True):
        state = observe(state, gradient, index)
    finished = sampler.after_steps(state, N, N)
    np.testing.assert_array_equal(finished.order, herding(gradients, visited, mean))
    np.testing.assert_allclose(finished.mean, gradients.mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize("engine", ["native", "jax"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_grab_runs_equal_the_numpy_reference_on_least_squares(batch_size, engine):
    # θ, the next order and the stale mean after 4 epochs, to 1e-10 (B = 4 leaves a last block of 2), both engines.
    X, y = _least_squares()
    problem, alpha = sl.least_squares(X, y), 0.02
    run = sl.minimize(problem, sl.grab(batch_size), step=alpha, epochs=4, seed=3, engine=engine)
    first = np.concatenate(sl.grab(batch_size).batches(N, epoch=0, seed=3))
    theta, order, mean = grab_run(lambda theta, i: (X[i] @ theta - y[i]) * X[i], np.zeros(P), N, batch_size,
                                        alpha, 4, first)
    np.testing.assert_allclose(run.params, theta, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(run.sampler_state.order, order)
    np.testing.assert_allclose(run.sampler_state.mean, mean, rtol=0, atol=1e-10)


def test_grab_balances_whole_gradients_of_a_regularized_classifier():
    # Logistic regression with an ℓ2 weight: the balanced gradient is ∇fᵢ with its λθ term.
    X, y = _least_squares(5)
    labels, alpha, l2 = np.where(y > 0, 1.0, -1.0), 0.1, 0.05
    problem = sl.logistic_regression(X, labels, l2=l2)

    def gradient(theta, i):
        return -labels[i] / (1.0 + np.exp(labels[i] * X[i] @ theta)) * X[i] + l2 * theta

    run = sl.minimize(problem, sl.grab(1), step=alpha, epochs=3, seed=1)
    first = np.concatenate(sl.grab(1).batches(N, epoch=0, seed=1))
    theta, order, _ = grab_run(gradient, np.zeros(P), N, 1, alpha, 3, first)
    np.testing.assert_allclose(run.params, theta, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(run.sampler_state.order, order)


def test_every_next_order_is_a_permutation_and_epoch_zero_is_random_reshuffling():
    X, y = _least_squares(2)
    problem = sl.least_squares(X, y)
    grab = sl.minimize(problem, sl.grab(1), step=0.02, epochs=1, seed=4, engine="jax")
    rr = sl.minimize(problem, sl.shuffled_cyclic(1), step=0.02, epochs=1, seed=4, engine="jax")
    np.testing.assert_array_equal(grab.params, rr.params)   # the same first epoch, bit for bit
    assert sorted(grab.sampler_state.order.tolist()) == list(range(N))
    assert isinstance(grab.sampler_state, GrabState)


@pytest.mark.parametrize("engine", ["native", "jax"])
def test_lanes_pieces_of_epochs_and_checkpoints_continue_the_same_order(tmp_path, engine):
    # The order is part of the run's state: runs grouped as lanes (compare), epochs cut into pieces
    # (record_every=0.5) and a run stopped and resumed from its checkpoint all equal the plain run, on both engines.
    X, y = _least_squares(6)
    problem = sl.least_squares(X, y)
    single = {seed: sl.minimize(problem, sl.grab(2), step=0.02, epochs=4, seed=seed, engine=engine)
              for seed in (0, 1, 2)}
    compared = sl.compare(problem, {"grab": dict(sampler=sl.grab(2), step=0.02)}, seeds=[0, 1, 2], epochs=4,
                          predict=False, engine=engine)
    last = compared.table.groupby("seed").loss.last()
    for seed, run in single.items():
        assert last[seed] == pytest.approx(run.history.loss.iloc[-1], rel=1e-12)
    pieces = sl.minimize(problem, sl.grab(2), step=0.02, epochs=4, seed=1, record_every=0.5, engine=engine)
    np.testing.assert_allclose(pieces.params, single[1].params, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(pieces.sampler_state.order, single[1].sampler_state.order)
    path = tmp_path / "grab.npz"
    sl.minimize(problem, sl.grab(2), step=0.02, epochs=2, seed=1, checkpoint=path, engine=engine)
    resumed = sl.minimize(problem, sl.grab(2), step=0.02, epochs=4, seed=1, checkpoint=path, resume=True,
                          engine=engine)
    np.testing.assert_array_equal(resumed.params, single[1].params)
    np.testing.assert_array_equal(resumed.sampler_state.order, single[1].sampler_state.order)


def test_grab_with_momentum_and_an_averaged_iterate_in_lanes():
    # The sampler's state rides beside the method's: heavy ball and a Polyak average run, lanes equal single runs.
    X, y = _least_squares(7)
    problem = sl.least_squares(X, y)
    settings = dict(sampler=sl.grab(3), step=0.01, method=sl.heavy_ball(0.5), average=sl.polyak_average())
    compared = sl.compare(problem, {"grab": settings}, seeds=[0, 1], epochs=3, predict=False)
    alone = sl.minimize(problem, seed=1, epochs=3, **settings)
    row = compared.table[compared.table.seed == 1].iloc[-1]
    assert row.loss == pytest.approx(alone.history.loss.iloc[-1], rel=1e-12)
    assert row.avg_loss == pytest.approx(alone.history.avg_loss.iloc[-1], rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("family", ["least_squares", "logistic_l2", "softmax_l2", "logistic_csr", "logistic_fold",
                                    "logistic_csr_fold", "softmax_csr"])
def test_the_native_herding_equals_the_jax_engines(family, batch_size):
    # The native loop herds the same gradients xᵢdᵢᵀ + λW in V's layout: θ and the stale mean to 1e-12, the same orders.
    import scipy.sparse

    X, y = _least_squares(8)
    labels = (y > 0).astype(int)
    sparse = scipy.sparse.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    problem = {"least_squares": lambda: sl.least_squares(X, y),
               "logistic_l2": lambda: sl.logistic_regression(X, labels, l2=0.05),
               "softmax_l2": lambda: sl.softmax_regression(X, np.digitize(y, [-1.0, 1.0]), l2=0.01),
               "logistic_csr": lambda: sl.logistic_regression(sparse, labels, l2=0.05),
               # αλ = 1/2: W's scale halves every step, so the loops fold it into V again and again
               "logistic_fold": lambda: sl.logistic_regression(X, labels, l2=2.0),
               "logistic_csr_fold": lambda: sl.logistic_regression(sparse, labels, l2=2.0),
               "softmax_csr": lambda: sl.softmax_regression(sparse, np.digitize(y, [-1.0, 1.0]), l2=0.01)}[family]()
    step = 0.25 if family.endswith("fold") else 0.05
    runs = [sl.minimize(problem, sl.grab(batch_size), step=step, epochs=4, seed=3, engine=engine)
            for engine in ("native", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(runs[0].sampler_state.order, runs[1].sampler_state.order)
    np.testing.assert_allclose(runs[0].sampler_state.mean, runs[1].sampler_state.mean, rtol=0, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_native_network_herding_equals_the_jax_engines(task, batch_size):
    # A ReLU network's entries balanced inside the native loop from their outer products (network_grab): θ, the
    # orders and the stale mean as the JAX engine's per-example gradients give them. H = 7 is odd: the parts' padding
    # unit must stay out of the herded vectors; N = 30 with B = 4 leaves a short last batch.
    X, y = _least_squares(10)
    targets = np.digitize(y, [-1.0, 1.0]) if task == "classification" else np.stack([y, -0.5 * y], axis=1)
    network = sl.mlp(X, targets, hidden=(7,), task=task, seed=2)
    step = 0.05 if task == "classification" else 0.002
    runs = [sl.minimize(network, sl.grab(batch_size), step=step, epochs=4, seed=3, engine=engine)
            for engine in ("native", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    assert np.isfinite(runs[1].history.loss).all() and runs[1].history.loss.iloc[-1] < runs[1].history.loss.iloc[0]
    for native, jax_engine in zip(jax.tree.leaves(runs[0].params), jax.tree.leaves(runs[1].params), strict=True):
        np.testing.assert_allclose(native, jax_engine, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(runs[0].sampler_state.order, runs[1].sampler_state.order)
    for native, jax_engine in zip(jax.tree.leaves(runs[0].sampler_state.mean),
                                  jax.tree.leaves(runs[1].sampler_state.mean), strict=True):
        np.testing.assert_allclose(native, jax_engine, rtol=0, atol=1e-11)
    np.testing.assert_allclose(runs[0].history.loss, runs[1].history.loss, rtol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_the_network_herding_on_two_threads_equals_one_and_the_jax_engine(batch_size, monkeypatch):
    # A network whose step is large enough (p·H + H·K ≥ parted.PARTED_MIN_WORK) that one run's parts go on two threads,
    # meeting after every entry's products: the lanes of a comparison (one thread each) give the same run bit for bit,
    # and the JAX engine the same orders and θ to rounding.
    from sgdlab.engines.native import parted

    rng = np.random.default_rng(11)
    X = rng.normal(size=(128, 40))   # B = 3: 43 steps an epoch, at least run.PARTED_MIN_STEPS
    network = sl.mlp(X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0), hidden=(111,), seed=1)
    assert parted.PARTED_MIN_WORK <= 40 * 111 + 111 * 3
    settings = dict(sampler=sl.grab(batch_size), step=0.02)
    threads = []
    monkeypatch.setattr(HerdedNetworkLoop, "part_runs", _counted(HerdedNetworkLoop.part_runs, threads))
    alone = {engine: sl.minimize(network, epochs=3, seed=4, engine=engine, **settings) for engine in ("native", "jax")}
    lanes = sl.compare(network, {"grab": settings}, seeds=[4, 5], epochs=3, predict=False, engine="native")
    assert lanes.runs["grab"]["engine"] == "native"
    row = lanes.table[lanes.table.seed == 4].iloc[-1]
    assert len(threads) >= 3 and set(threads) == {2} and row.loss == alone["native"].history.loss.iloc[-1]
    np.testing.assert_array_equal(alone["native"].sampler_state.order, alone["jax"].sampler_state.order)
    for native, jax_engine in zip(jax.tree.leaves(alone["native"].params), jax.tree.leaves(alone["jax"].params),
                                  strict=True):
        np.testing.assert_allclose(native, jax_engine, rtol=0, atol=1e-11)


def _counted(part_runs, threads: list):
    """``part_runs`` noting how many threads each call hands out."""
    def counted(*args):
        runs = part_runs(*args)
        threads.append(len(runs))
        return runs
    return counted


def test_bad_uses_of_grab_say_what_is_allowed():
    X, y = _least_squares()
    problem = sl.least_squares(X, y)
    with pytest.raises(ValueError, match="drop_last must be False for grab"):
        sl.samplers.GraB(4, drop_last=True)
    with pytest.raises(ValueError, match=r"epoch must be 0 for grab's batches \(later epochs' orders are herded"):
        sl.grab(2).batches(N, epoch=1)
    with pytest.raises(ValueError, match="engine must be 'auto' or 'jax' here; got 'native', but the sampler's order "
                       "depends on the run"):
        sl.minimize(problem, sl.grab(1), step=0.01, epochs=1, engine="native", method=sl.heavy_ball(0.5))
    expectation = sl.expectation(lambda theta, omega: jnp.sum((theta - omega) ** 2),
                                 lambda key: jax.random.normal(key, (2,)), np.zeros(2))
    with pytest.raises(ValueError, match=r"sampler must be iid\(B\) \(fresh draws\) or full_batch\(\) for an "
                       "expectation; got grab"):
        sl.minimize(expectation, sl.grab(1), step=0.01, steps=3)


class NormOrdered(sl.samplers.RunOrdered):
    """A toy order that depends on the run, to check the engine interface is not GraB's alone: each epoch visits the
    examples by decreasing ‖∇fᵢ‖ seen in the epoch before (epoch 0: 0, 1, …, N − 1)."""

    name = "norm_ordered"

    class State(typing.NamedTuple):
        order: typing.Any
        norms: typing.Any

    def initial_state(self, n, seed, params):
        return self.State(np.arange(n, dtype=np.int32), np.zeros(n))

    def observe(self, state, gradients, indices, mask):
        norms = jnp.sqrt(sum(jnp.sum(leaf.reshape(indices.shape[0], -1) ** 2, axis=1)
                             for leaf in jax.tree.leaves(gradients)))
        return state._replace(norms=state.norms.at[jnp.where(mask, indices, state.norms.size)].set(norms, mode="drop"))

    def after_steps(self, state, iteration, n):
        done = iteration % self.steps_per_epoch(n) == 0
        return state._replace(order=jnp.where(done, jnp.argsort(-state.norms, stable=True).astype(jnp.int32),
                                              state.order))


def test_any_order_computed_by_the_run_plugs_into_the_engine_interface(tmp_path):
    # A sampler the library does not know, written against RunOrdered alone, runs on the JAX engine, equals a NumPy
    # loop doing the same, and resumes from a checkpoint bit for bit.
    X, y = _least_squares(9)
    problem, alpha, sampler = sl.least_squares(X, y), 0.02, NormOrdered(2)
    run = sl.minimize(problem, sampler, step=alpha, epochs=3, seed=0)
    theta, order = np.zeros(P), np.arange(N)
    for _ in range(3):
        norms = np.zeros(N)
        for start in range(0, N, 2):
            block = order[start:start + 2]
            each = (X[block] @ theta - y[block])[:, None] * X[block]
            norms[block] = np.linalg.norm(each, axis=1)
            theta = theta - alpha * each.mean(axis=0)
        order = np.argsort(-norms, kind="stable")
    assert run.engine == "jax"
    np.testing.assert_allclose(run.params, theta, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run.sampler_state.order, order)
    path = tmp_path / "ordered.npz"
    sl.minimize(problem, sampler, step=alpha, epochs=1, seed=0, checkpoint=path)
    resumed = sl.minimize(problem, sampler, step=alpha, epochs=3, seed=0, checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.params, run.params)
