"""The native loop of a one-hidden-layer ReLU network (sgdlab.engines.native.network_sgd): the JAX engine's run,
on one thread or two; and the small pieces it is built of, against NumPy."""

import jax
import numba
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.engines import compiled, select
from sgdlab.engines.evaluation import Reference
from sgdlab.engines.native import exponential
from sgdlab.engines.native import run as native_run
from sgdlab.engines.native._llvm import products

N, P = 700, 12   # 700 = 21 · 32 + 28: a short last batch at B = 32


def _network(task="classification", hidden=(9,), dtype=np.float64):
    """Odd H (the second part padded with a unit of zero weights); K = 4 classes or 3 outputs."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N, P)).astype(dtype)
    y = rng.integers(0, 4, size=N) if task == "classification" else rng.normal(size=(N, 3))
    return sl.mlp(X, y, hidden=hidden, task=task, seed=3)


def _leaves(params):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("sampler", [sl.shuffled_cyclic(32), sl.cyclic(5), sl.without_replacement(16),
                                     sl.with_replacement(1), sl.shuffled_cyclic(32, drop_last=True),
                                     sl.full_batch()], ids=repr)
def test_native_network_run_equals_the_jax_run(task, sampler):
    # B = 5 and 1 take the rank-B updates, 16 and 32 the sums over the batch (SUMMED_MIN_WIDTH = 16).
    network = _network(task)
    step = sl.inverse_time(0.05, 0.01)
    runs = [sl.minimize(network, sampler, step=step, epochs=3, seed=4, engine=engine) for engine in ("native", "jax")]
    assert [run.engine for run in runs] == ["native", "jax"]
    for ours, theirs in zip(_leaves(runs[0].params), _leaves(runs[1].params), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    for column in ("loss", "grad_norm", "zero_preactivations"):
        np.testing.assert_allclose(runs[0].history[column], runs[1].history[column], rtol=0, atol=1e-10)


def test_history_rows_are_evaluated_natively_in_float64_for_both_float_types():
    # The equality test above then holds the native F, ‖∇F‖ and kink count (H = 9: the padded unit's
    # pre-activations, all exactly 0, are not counted) to JAX's. A float32 run's rows are F and ‖∇F‖ of its
    # float32 θ on its float32 X summed in float64: the float64 network on the same numbers, to 1e-12.
    sampler = sl.shuffled_cyclic(32)
    network = _network(dtype=np.float32)
    assert _native(_network(), sampler)._evaluates_natively and _native(network, sampler)._evaluates_natively
    run = sl.minimize(network, sampler, step=0.05, epochs=2, seed=1, engine="native")
    widened = sl.mlp(np.asarray(network.X, np.float64), np.asarray(network.targets), hidden=(9,), seed=3)
    theta = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), run.params)
    assert run.history.loss.iloc[-1] == pytest.approx(float(widened.loss(theta)), rel=1e-12)
    gradient = jax.tree.leaves(widened.grad(theta))
    norm = np.sqrt(sum(np.sum(np.asarray(leaf) ** 2) for leaf in gradient))
    assert run.history.grad_norm.iloc[-1] == pytest.approx(norm, rel=1e-10)


def test_one_thread_and_two_threads_give_the_same_run_bit_for_bit(monkeypatch):
    if native_run.CORES < 2:
        pytest.skip("one core: the parts cannot run side by side here")
    network = _network(hidden=(40,))
    assert _native(network, sl.shuffled_cyclic(32)).loop.parted
    two = sl.minimize(network, sl.shuffled_cyclic(32), step=0.1, epochs=2, seed=2, engine="native")
    monkeypatch.setattr(native_run, "CORES", 1)
    one = sl.minimize(network, sl.shuffled_cyclic(32), step=0.1, epochs=2, seed=2, engine="native")
    for a, b in zip(_leaves(one.params), _leaves(two.params), strict=True):
        np.testing.assert_array_equal(a, b)


def _native(problem, sampler):
    return select.program("native", problem, sampler, problem.params0, compiled.program_schedule(sl.constant(0.1)),
                          Reference())


def test_a_comparison_lane_is_the_run_made_alone_bit_for_bit():
    network = _network(hidden=(40,))
    alone = [sl.minimize(network, sl.shuffled_cyclic(32), step=0.1, epochs=2, seed=seed, engine="native").history
             for seed in (0, 1)]
    table = sl.compare(network, {"rr": dict(sampler=sl.shuffled_cyclic(32), step=0.1)}, seeds=2, epochs=2,
                       engine="native").table
    for seed, history in enumerate(alone):
        np.testing.assert_array_equal(table[table.seed == seed].loss.to_numpy(), history.loss.to_numpy())


def test_float32_network_runs_natively_up_to_float32_rounding():
    network = _network(dtype=np.float32)
    runs = [sl.minimize(network, sl.shuffled_cyclic(8), step=0.05, epochs=2, seed=1, engine=engine)
            for engine in ("native", "jax")]
    assert [leaf.dtype for leaf in _leaves(runs[0].params)] == [np.float32] * 4
    # Both compute in float32 (relative rounding 6e-8 an operation), the native products summing in another order
    # (register tiles, fused multiply-adds): over 176 steps of weights of size ~1 they stay within 1e-5 (2e-7 seen;
    # a loop computing in float64 and rounding θ at the epoch's end differed from JAX's by 1e-5 to 1e-4).
    for ours, theirs in zip(_leaves(runs[0].params), _leaves(runs[1].params), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_native_network_diverges_like_the_jax_run():
    runs = [sl.minimize(_network(), sl.shuffled_cyclic(4), step=1e6, epochs=3, engine=engine)
            for engine in ("native", "jax")]
    assert [run.status for run in runs] == ["diverged", "diverged"]


def test_auto_runs_one_hidden_layer_natively_and_deeper_or_larger_work_on_jax():
    network = _network()
    assert sl.minimize(network, sl.shuffled_cyclic(32), step=0.01, epochs=1).engine == "native"
    per_example = P * 9 + 9 * 4   # B · H · (p + K) at B = 1
    too_large = sl.shuffled_cyclic(select.AUTO_MAX_WORK_NETWORK // per_example + 1)
    assert select.choose("auto", network, too_large) == "jax"
    assert sl.minimize(_network(hidden=(6, 5)), sl.shuffled_cyclic(32), step=0.01, epochs=1).engine == "jax"


def test_native_engine_refuses_a_deeper_network():
    with pytest.raises(ValueError, match="got 'native', but the network has 2 hidden layers"):
        sl.minimize(_network(hidden=(6, 5)), sl.cyclic(8), step=0.01, epochs=1, engine="native")


@pytest.mark.parametrize("shape", [(64, 32, 64), (64, 64, 32), (13, 37, 5), (4, 16, 1), (1, 9, 3), (0, 3, 2),
                                   (6, 1, 10), (10, 32, 64), (6, 24, 7), (3, 8, 2)])
@pytest.mark.parametrize("views", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_product_equals_numpy(shape, views, dtype):
    # Tiles of 4 rows x 2, 1 and 1/2 vectors (4 x 16, 4 x 8 and 4 x 4 float64 with AVX-512, 4 x 32, 4 x 16, 4 x 8
    # float32), a last tile of fewer rows, columns left over; transposed views: no tiles. Sums of k ≤ 64 products
    # of normal numbers: float64's rounding stays below 1e-13, float32's (6e-8 a step) below 2e-5.
    m, n, k = shape
    rng = np.random.default_rng(0)
    A, B, C = (rng.normal(size=size).astype(dtype) for size in ((m, k), (k, n), (m, n)))
    if views == "transposed":
        A, B, C = (np.ascontiguousarray(array.T).T for array in (A, B, C))
    expected = C.astype(np.float64) - 0.5 * A.astype(np.float64) @ B.astype(np.float64)
    products.add_product(A, B, C, -0.5)
    assert C.dtype == dtype
    tolerance = 1e-13 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(C, expected, rtol=tolerance, atol=tolerance)
    out = np.empty((k, m))
    products.transpose_into(A, out)
    np.testing.assert_array_equal(out, A.T)


def test_exponential_is_numpys_to_the_last_places():
    x = np.concatenate([np.linspace(-745, 709, 200_001), -np.abs(np.random.default_rng(0).normal(size=10_000)) * 30])
    out = np.empty_like(x)
    _exponentials(x, out)
    reference = np.exp(x)
    normal = reference > np.finfo(np.float64).tiny
    assert np.max(np.abs(out[normal] / reference[normal] - 1)) <= 4.5e-16   # two units in the last place
    special = np.array([0.0, -746.0, -1e4, -np.inf, np.nan])
    _exponentials(special, out[:5])
    np.testing.assert_array_equal(out[:5], [1.0, 0.0, 0.0, 0.0, np.nan])


@numba.njit
def _exponentials(x, out):
    for i in range(x.size):
        out[i] = exponential.exp(x[i])
