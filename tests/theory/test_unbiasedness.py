"""Unbiasedness: uniform samplers pass the z-test, cyclic orders fail it."""

import re

import numpy as np
import pytest

import sgdlab as sl
from sgdlab import theory


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.with_replacement(6), sl.without_replacement(6),
                                     sl.shuffled_cyclic(6), sl.full_batch()], ids=repr)
def test_unbiasedness_z_scores_are_small_for_uniform_samplers(regression_data, sampler):
    problem = sl.least_squares(*regression_data)
    step = 0 if sampler.is_full_batch else 3
    check = theory.unbiasedness(problem, sampler, params=np.zeros(4), draws=3000, step=step)
    assert check.unbiased and check.max_abs_z <= check.threshold
    assert "consistent with" in check.verdict


@pytest.mark.parametrize("sampler", [sl.cyclic(1), sl.cyclic(6), sl.shuffle_once(6)], ids=repr)
def test_unbiasedness_z_scores_are_large_for_cyclic(regression_data, sampler):
    problem = sl.least_squares(*regression_data)
    check = theory.unbiasedness(problem, sampler, params=np.zeros(4), draws=3000, step=3)
    if sampler.name == "cyclic":
        assert np.isinf(check.max_abs_z)  # the same batch every draw: a deterministic, biased gradient
    else:
        # shuffle once draws its permutation from the seed, so across seeds it is marginally uniform too
        assert check.unbiased
    assert check.unbiased is (sampler.name != "cyclic")


def test_unbiasedness_refuses_a_step_outside_the_epoch(regression_data):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(ValueError, match=re.escape("step must be an integer in [0, 9] for cyclic(batch_size=6")):
        theory.unbiasedness(problem, sl.cyclic(6), step=10)
