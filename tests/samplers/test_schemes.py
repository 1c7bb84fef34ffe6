"""Samplers: each plan has the structure its scheme promises, and the random ones are uniform and unbiased."""

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import sgdlab as sl

from reference import least_squares_gradients

N = 23


def test_full_batch_uses_every_index_once_in_one_step():
    plan = sl.full_batch().batches(N)
    assert len(plan) == 1 and np.array_equal(plan[0], np.arange(N))


def test_cyclic_visits_indices_in_order_with_a_shorter_last_batch():
    plan = sl.cyclic(5).batches(N, epoch=3, seed=9)
    assert [len(b) for b in plan] == [5, 5, 5, 5, 3]
    assert np.array_equal(np.concatenate(plan), np.arange(N))


def test_drop_last_drops_the_short_batch():
    plan = sl.cyclic(5, drop_last=True).batches(N)
    assert [len(b) for b in plan] == [5, 5, 5, 5]
    assert sl.shuffled_cyclic(5, drop_last=True).steps_per_epoch(N) == 4


def test_shuffled_cyclic_is_a_new_permutation_each_epoch():
    sampler = sl.shuffled_cyclic(4)
    orders = [np.concatenate(sampler.batches(N, epoch=e, seed=1)) for e in range(3)]
    for order in orders:
        assert np.array_equal(np.sort(order), np.arange(N))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_shuffle_once_reuses_one_permutation_every_epoch():
    sampler = sl.shuffle_once(4)
    orders = [np.concatenate(sampler.batches(N, epoch=e, seed=1)) for e in range(3)]
    assert np.array_equal(np.sort(orders[0]), np.arange(N))
    assert not np.array_equal(orders[0], np.arange(N))
    assert all(np.array_equal(order, orders[0]) for order in orders)
    assert not np.array_equal(np.concatenate(sampler.batches(N, seed=2)), orders[0])


@pytest.mark.parametrize(("n", "batch_size"), [(N, 1), (N, 4), (N, 7), (12, 12), (1, 1)])
def test_flip_flop_runs_each_even_epoch_backwards_on_the_odd_one(n, batch_size):
    sampler = sl.flip_flop(batch_size)
    orders = [np.concatenate(sampler.batches(n, epoch=e, seed=3)) for e in range(6)]
    for even in (0, 2, 4):
        assert np.array_equal(orders[even + 1], orders[even][::-1])
        assert np.array_equal(np.sort(orders[even]), np.arange(n))
    if n > 2:   # a fresh permutation every other epoch
        assert len({order.tobytes() for order in orders[0::2]}) == 3
    if n % batch_size == 0:   # the same batches, in reverse order
        forward, backward = sampler.batches(n, epoch=2, seed=3), sampler.batches(n, epoch=3, seed=3)
        assert [sorted(b.tolist()) for b in backward] == [sorted(b.tolist()) for b in forward[::-1]]


@pytest.mark.parametrize("batch_size", [1, 3, 4, 5, 17, 23])  # Floyd's algorithm for B² ≤ N, a permutation prefix above
def test_without_replacement_never_repeats_inside_a_batch(batch_size):
    sampler = sl.without_replacement(batch_size)
    for epoch in range(20):
        plan = sampler.batches(N, epoch=epoch, seed=0)
        assert len(plan) == -(-N // batch_size)
        for batch in plan:
            assert len(batch) == batch_size and len(set(batch.tolist())) == batch_size
            assert batch.min() >= 0 and batch.max() < N


def test_epoch_plans_can_be_recomputed_alone():
    for sampler in [sl.with_replacement(3), sl.without_replacement(3), sl.shuffled_cyclic(3)]:
        first = sampler.batches(N, epoch=5, seed=42)
        again = sampler.batches(N, epoch=5, seed=42)
        other = sampler.batches(N, epoch=6, seed=42)
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
        assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def _many_batches(sampler, n, epochs, seed=0):
    """All batch index rows of ``epochs`` epochs."""
    return np.concatenate([sampler.plan(n, seed, epoch)[0] for epoch in range(epochs)])


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(4), sl.without_replacement(4),
                                     sl.without_replacement(12)])
def test_indices_are_uniform_by_chi_square(sampler):
    counts = np.bincount(_many_batches(sampler, N, epochs=400).ravel(), minlength=N)
    # H0: every index equally likely. At a fixed seed the p-value is a fixed number; 0.001 is the level.
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_chi_square_detects_a_non_uniform_plan():
    counts = np.bincount(_many_batches(sl.with_replacement(4), N, epochs=400).ravel(), minlength=N)
    counts[0] += counts.sum() // 50  # index 0 two percent more often than it should be
    assert scipy.stats.chisquare(counts).pvalue < 1e-3


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(5), sl.without_replacement(5)])
def test_stochastic_gradient_is_unbiased(regression_data, sampler):
    X, y = regression_data
    theta = np.array([0.5, 0.5, 0.5, 0.5])
    per_example = least_squares_gradients(theta, X, y)
    batches = _many_batches(sampler, len(y), epochs=2000, seed=3)
    estimates = per_example[batches].mean(axis=1)
    # Each estimate is unbiased with covariance at most Σ/B, so the mean of M of them has standard
    # error per coordinate σ_j / √(M B) (smaller without replacement); 5 standard errors is the tolerance.
    standard_error = per_example.std(axis=0) / np.sqrt(len(batches) * sampler.batch_size)
    np.testing.assert_array_less(np.abs(estimates.mean(axis=0) - per_example.mean(axis=0)), 5 * standard_error)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 45), epoch=st.integers(0, 5), seed=st.integers(0, 1000),
       kind=st.sampled_from([sl.cyclic, sl.shuffled_cyclic, sl.shuffle_once, sl.flip_flop,
                            lambda b: sl.shuffled_chunks(b, 7)]))
def test_block_schemes_use_every_example_once_per_epoch(n, batch_size, epoch, seed, kind):
    plan = kind(batch_size).batches(n, epoch=epoch, seed=seed)
    assert len(plan) == -(-n // batch_size)
    assert np.array_equal(np.sort(np.concatenate(plan)), np.arange(n))
    assert all(len(batch) == batch_size for batch in plan[:-1])


def test_shuffled_chunks_keeps_each_chunk_together_in_a_new_order_each_epoch():
    sampler = sl.shuffled_chunks(4, chunk=8)   # N = 40: five chunks of two batches each
    orders = []
    for epoch in range(3):
        plan = sampler.batches(40, epoch=epoch, seed=5)
        chunks = [set((batch // 8).tolist()) for batch in plan]
        assert all(len(chunk) == 1 for chunk in chunks)            # a batch lies in one chunk
        assert chunks[0::2] == chunks[1::2]                        # a chunk's two batches come together
        orders.append(np.concatenate(plan))
        assert np.array_equal(np.sort(orders[-1]), np.arange(40))
    assert not np.array_equal(orders[0] // 8, orders[1] // 8)      # the chunk order changes between epochs
    assert not np.array_equal(orders[0] % 8, orders[1] % 8)        # and so does the order inside chunks


def test_shuffled_chunks_draws_chunks_and_rows_uniformly_by_chi_square():
    sampler = sl.shuffled_chunks(1, chunk=5)   # N = 23: chunks of 5, 5, 5, 5 and 3 rows
    firsts = np.array([sampler.order(N, 0, epoch)[0] for epoch in range(3000)])
    # H0: the first chunk is uniform over the 5, and its first row uniform over that chunk's rows.
    assert scipy.stats.chisquare(np.bincount(firsts // 5, minlength=5)).pvalue > 1e-3
    assert scipy.stats.chisquare(np.bincount(firsts[firsts < 20] % 5, minlength=5)).pvalue > 1e-3
    assert scipy.stats.chisquare(np.bincount(firsts[firsts >= 20] - 20, minlength=3)).pvalue > 1e-3


def test_shuffled_chunks_refuses_a_bad_chunk():
    with pytest.raises(ValueError, match=r"chunk must be an integer >= 1 for shuffled_chunks; got 0\."):
        sl.shuffled_chunks(4, chunk=0)


def test_repr_names_the_scheme():
    assert repr(sl.shuffled_cyclic(32)) == "shuffled_cyclic(batch_size=32, drop_last=False)"
    assert repr(sl.full_batch()) == "full_batch()"


@pytest.mark.parametrize("sampler", [sl.full_batch(), sl.cyclic(3), sl.cyclic(3, drop_last=True), sl.shuffled_cyclic(1),
                                     sl.shuffled_cyclic(4), sl.shuffle_once(2), sl.flip_flop(3),
                                     sl.shuffled_chunks(2, chunk=4), sl.with_replacement(3), sl.without_replacement(2)],
                         ids=repr)
def test_plans_of_many_epochs_are_the_epochs_plans_one_after_the_other(sampler):
    seeds = np.array([0, 4, 9])
    indices, masks = sampler.epochs_plans(N, seeds, 3, 4)
    by_epoch = [sampler.stacked_plans(N, seeds, epoch) for epoch in range(3, 7)]
    np.testing.assert_array_equal(indices, np.concatenate([plan[0] for plan in by_epoch], axis=1))
    np.testing.assert_array_equal(masks, np.concatenate([plan[1] for plan in by_epoch], axis=1))
    assert indices.dtype == np.int32 and masks.dtype == bool and indices.flags.c_contiguous
