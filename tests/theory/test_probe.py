"""The batch-size throughput probe: a well-formed table at tiny sizes (no timing assertion), its knee rule,
a size that cannot fit refused without running it, and bad input."""

import re

import numpy as np
import pandas as pd
import pytest

import sgdlab as sl
from sgdlab.theory import probe


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5))
    return sl.least_squares(X, X.sum(axis=1))


def test_the_probe_returns_one_row_per_size(problem):
    table = sl.probe_batch_sizes(problem)
    assert list(table.batch_size) == [1, 2, 4, 8, 16, 32, 64]
    assert list(table.columns) == ["batch_size", "seconds_per_step", "samples_per_second", "memory_bytes",
                                   "scratch_bytes", "memory_source", "fits", "knee"]
    assert set(table.memory_source) == {"XLA memory analysis"}
    assert table.fits.all() and (table.seconds_per_step > 0).all() and table.knee.sum() == 1
    np.testing.assert_allclose(table.samples_per_second, table.batch_size / table.seconds_per_step)
    assert (table.memory_bytes >= problem.data[0].nbytes).all()   # the step's arguments include the data


def test_knee_is_the_smallest_size_within_the_gain_of_the_best():
    table = pd.DataFrame({"batch_size": [1, 2, 4, 8], "samples_per_second": [10.0, 50.0, 95.0, 100.0],
                          "fits": [True, True, True, True]})
    assert probe.knee(table, 0.1) == 4 and probe.knee(table, 0.01) == 8 and probe.knee(table, 0.6) == 2


def test_a_size_that_does_not_fit_is_refused_without_running(problem, monkeypatch):
    monkeypatch.setattr(probe, "_free_memory", lambda device: 1_000)   # bytes: only the small steps fit
    with pytest.warns(ResourceWarning, match="batch size 64 needs .* bytes beyond the data, more than the 1,000 free"):
        table = sl.probe_batch_sizes(problem, sizes=[1, 8, 64])
    assert list(table.fits) == [True, True, False]
    assert np.isnan(table.seconds_per_step.iloc[-1]) and table.scratch_bytes.iloc[-1] > 1_000


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(sizes=[1, 0]), ValueError, "sizes must be an integer in [1, 64] for N=64; got 0."),
    (dict(sizes=[2, 128]), ValueError, "sizes must be an integer in [1, 64] for N=64; got 128."),
    (dict(sizes=[4, 2]), ValueError, "sizes must be increasing batch sizes; got [4, 2]."),
    (dict(sizes=[1.5]), TypeError, "sizes must be an integer"),
    (dict(device="tpu:3"), ValueError, "device must be a JAX device or one of cpu:0; got 'tpu:3'."),
    (dict(knee_gain=2.0), ValueError, "knee_gain must be a number in (0, 1); got 2.0."),
])
def test_bad_input_names_the_parameter(problem, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        sl.probe_batch_sizes(problem, **kwargs)
