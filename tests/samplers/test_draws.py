"""The samplers' random draws: permutations uniform over all N! orders, uniform indices and subsets, fixed by
their entropy."""

import itertools
import math
import re

import numpy as np
import pytest
import scipy.stats

from sgdlab.samplers import draws
from sgdlab.samplers.draws import permutation


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_it_is_a_permutation(n):
    np.testing.assert_array_equal(np.sort(permutation(n, 5, 2)), np.arange(n))


def test_every_order_of_four_is_equally_likely():
    """24,000 draws over the 4! orders: a chi-square test of uniformity at the 0.1% level (fixed seeds)."""
    orders = {order: i for i, order in enumerate(itertools.permutations(range(4)))}
    counts = np.zeros(math.factorial(4))
    for seed in range(24_000):
        counts[orders[tuple(permutation(4, seed, 0))]] += 1
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_each_position_is_uniform_across_epochs():
    """Where element 0 lands, over 5,000 epochs of one seed, is uniform on the 10 positions."""
    positions = np.bincount([int(np.flatnonzero(permutation(10, 1, epoch) == 0)[0]) for epoch in range(5000)],
                            minlength=10)
    assert scipy.stats.chisquare(positions).pvalue > 1e-3


def _bucketed(n: int, bits: int, *entropy: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int32)
    draws._bucketed_shuffle(out, bits, np.array(entropy, dtype=np.uint64))
    return out


@pytest.mark.parametrize(("n", "bits"), [(0, 1), (1, 3), (7, 3), (1000, 4), (draws.BUCKETED_ABOVE + 1, None)])
def test_the_bucketed_shuffle_is_a_permutation(n, bits):
    order = permutation(n, 9, 1) if bits is None else _bucketed(n, bits, 9, 1)   # None: as permutation picks it
    np.testing.assert_array_equal(np.sort(order), np.arange(n))


def test_the_bucketed_shuffle_makes_every_order_of_four_equally_likely():
    """Rao–Sandelius with 2 and 4 buckets: 24,000 draws each over the 4! orders, chi-square at the 0.1% level."""
    orders = {order: i for i, order in enumerate(itertools.permutations(range(4)))}
    for bits in (1, 2):
        counts = np.zeros(math.factorial(4))
        for seed in range(24_000):
            counts[orders[tuple(_bucketed(4, bits, seed, 0))]] += 1
        assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_the_bucketed_shuffle_puts_an_element_anywhere_uniformly():
    """Where element 0 lands among 40 with 8 buckets, over 8,000 draws: uniform on the 40 positions."""
    positions = np.bincount([int(np.flatnonzero(_bucketed(40, 3, seed) == 0)[0]) for seed in range(8000)],
                            minlength=40)
    assert scipy.stats.chisquare(positions).pvalue > 1e-3


def test_the_same_entropy_gives_the_same_permutation_and_other_entropy_another():
    np.testing.assert_array_equal(permutation(50, 3, 4), permutation(50, 3, 4))
    draws = [permutation(50, *entropy) for entropy in [(3, 4), (4, 3), (3, 5), (3,), ()]]
    for a, b in itertools.combinations(draws, 2):
        assert not np.array_equal(a, b)


def test_bad_entropy_is_refused():
    with pytest.raises(ValueError, match=re.escape("entropy must be an integer >= 0")):
        permutation(5, -1)


def test_with_replacement_indices_are_uniform():
    from sgdlab.samplers.draws import with_replacement

    counts = np.bincount(with_replacement(7, (7000, 3), 2, 9).ravel(), minlength=7)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_without_replacement_rows_are_uniform_subsets():
    """Each of the C(5, 2) = 10 subsets of size 2 appears equally often over 10,000 rows."""
    from sgdlab.samplers.draws import without_replacement

    rows = without_replacement(5, (10_000, 2), 4, 1)
    assert all(len(set(row)) == 2 for row in rows.tolist())
    subsets = {pair: i for i, pair in enumerate(itertools.combinations(range(5), 2))}
    counts = np.bincount([subsets[tuple(sorted(row))] for row in rows.tolist()], minlength=10)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_a_subset_as_large_as_n_is_a_permutation():
    from sgdlab.samplers.draws import without_replacement

    rows = without_replacement(6, (3, 6), 0, 0)
    assert all(sorted(row) == list(range(6)) for row in rows.tolist())


def test_draws_of_many_rows_equal_the_draws_one_at_a_time():
    entropies = np.array([[0, 0], [0, 1], [7, 3], [2**40, 5]])
    for row, drawn in zip(entropies, draws.permutations(50, entropies), strict=True):
        np.testing.assert_array_equal(drawn, draws.permutation(50, *row))
    for row, drawn in zip(entropies, draws.with_replacement_rows(9, (4, 3), entropies), strict=True):
        np.testing.assert_array_equal(drawn, draws.with_replacement(9, (4, 3), *row))
    for row, drawn in zip(entropies, draws.without_replacement_rows(9, (4, 3), entropies), strict=True):
        np.testing.assert_array_equal(drawn, draws.without_replacement(9, (4, 3), *row))
    above = draws.BUCKETED_ABOVE + 1   # the bucketed shuffle, one row at a time
    np.testing.assert_array_equal(draws.permutations(above, entropies[2:3])[0], draws.permutation(above, 7, 3))


def test_negative_entropy_rows_are_refused():
    with pytest.raises(ValueError, match="entropy"):
        draws.permutations(5, np.array([[1, -2]]))
