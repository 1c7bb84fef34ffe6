"""Memory-mapped data: epochs streamed through blocks of gathered rows give the in-memory run."""

import re

import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab import streamed


def _loss(theta, example):
    x, y = example
    return 0.5 * (jnp.dot(x, theta) - y) ** 2


@pytest.fixture()
def problems(tmp_path, monkeypatch):
    """The same data in memory and as .npy files opened with mmap_mode="r"; blocks of 64 rows and
    chunks of 100 rows, so an epoch spans many blocks, the last ones short."""
    monkeypatch.setattr(streamed, "BLOCK_ROWS", 64)
    monkeypatch.setattr(streamed, "EVAL_ROWS", 100)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = X.sum(axis=1) + 0.1 * rng.normal(size=500)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    on_disk = (np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r"))
    return sl.finite_sum(_loss, (X, y), np.zeros(4)), sl.finite_sum(_loss, on_disk, np.zeros(4))


@pytest.mark.parametrize("sampler", [sl.with_replacement(1), sl.without_replacement(8), sl.cyclic(7),
                                     sl.shuffled_cyclic(16), sl.shuffle_once(5, drop_last=True)], ids=repr)
def test_memory_mapped_data_give_the_in_memory_run(problems, sampler):
    memory, disk = problems
    assert disk.on_disk and not memory.on_disk
    assert all(isinstance(leaf, np.memmap) for leaf in disk.data)   # never read whole into an array
    expected = sl.minimize(memory, sampler, step=0.05, epochs=3, seed=2)
    streamed_run = sl.minimize(disk, sampler, step=0.05, epochs=3, seed=2)
    np.testing.assert_array_equal(streamed_run.params, expected.params)
    np.testing.assert_allclose(streamed_run.history.loss, expected.history.loss, rtol=1e-13)
    np.testing.assert_allclose(streamed_run.history.grad_norm, expected.history.grad_norm, rtol=1e-12)


def test_gradient_descent_and_the_friendly_layer_sum_over_chunks(problems):
    memory, disk = problems
    theta = np.array([1.0, -1.0, 0.5, 2.0])
    assert float(disk.loss(theta)) == pytest.approx(float(memory.loss(theta)), rel=1e-13)
    np.testing.assert_allclose(disk.grad(theta), memory.grad(theta), rtol=1e-13)
    runs = [sl.minimize(problem, step=0.1, epochs=5) for problem in (memory, disk)]
    np.testing.assert_allclose(runs[1].params, runs[0].params, rtol=0, atol=1e-13)


@pytest.mark.parametrize("call, text", [
    (lambda disk: sl.compare(disk, {"a": dict(sampler=sl.cyclic(4), step=0.1)}, seeds=2, epochs=1),
     "problem must be data in memory for compare and for devices="),
    (lambda disk: sl.minimize(disk, sl.cyclic(4), step=0.1, epochs=1, constraint=sl.ball(1.0)),
     "constraint must be left out for memory-mapped data"),
])
def test_what_streamed_runs_cannot_do_is_refused(problems, call, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        call(problems[1])
