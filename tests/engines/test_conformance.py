"""Every engine's epoch program runs the same small run: the written interface (EpochProgram), and
the same θ and history on each, held to the slow NumPy reference loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.engines import compiled, select
from sgdlab.engines.base import Carry, EpochProgram
from sgdlab.engines.evaluation import Reference

from reference import least_squares_gradients, reference_run

SAMPLER, STEP, EPOCHS, SEED = sl.shuffled_cyclic(5), 0.05, 3, 4   # N = 37: the last batch of an epoch holds 2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(37, 3))
    return X, X @ np.array([1.0, -1.0, 2.0]) + 0.1 * rng.normal(size=37)


@pytest.fixture(scope="module")
def expected(data):
    """θ after the run, from the NumPy reference loop (shares only the samplers' plans with sgdlab)."""
    X, y = data
    return reference_run(lambda theta, idx: least_squares_gradients(theta, X[idx], y[idx]), np.zeros(3), len(y),
                         SAMPLER, lambda k: STEP, EPOCHS, SEED)


def _squared(theta, example):
    x, target = example
    return 0.5 * (jnp.dot(x, theta) - target) ** 2


def _on_disk(data, folder):
    for name, array in zip(("X", "y"), data, strict=True):
        np.save(folder / f"{name}.npy", array)
    mapped = tuple(np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("X", "y"))
    return sl.finite_sum(_squared, mapped, np.zeros(3))


@pytest.mark.parametrize("engine", ["jax", "native", "streamed"])
def test_each_engine_builds_an_epoch_program(data, tmp_path, engine):
    problem = _on_disk(data, tmp_path) if engine == "streamed" else sl.least_squares(*data)
    program = select.program(engine, problem, SAMPLER, problem.params0, compiled.program_schedule(sl.constant(STEP)),
                             Reference())
    assert isinstance(program, EpochProgram) and program.engine == engine and program.lanes is None
    program.prepare(True)
    carry, metrics = program.epoch(Carry(problem.params0, (), 0), SEED, 0, compiled.program_schedule(
        sl.constant(STEP)), True)
    assert carry.iteration == SAMPLER.steps_per_epoch(37) and np.isfinite(metrics.loss)
    assert metrics.loss < program.evaluate(problem.params0).loss


def _runs(data, folder):
    """The same run through minimize on each engine (and data-parallel on this process's devices), and as
    a lane of a comparison on each engine that runs lanes."""
    problem = sl.least_squares(*data)
    arguments = dict(step=STEP, epochs=EPOCHS, seed=SEED)
    runs = {engine: sl.minimize(problem, SAMPLER, engine=engine, **arguments) for engine in ("jax", "native")}
    runs["streamed"] = sl.minimize(_on_disk(data, folder), SAMPLER, **arguments)
    runs["devices"] = sl.minimize(problem, SAMPLER, devices=jax.devices(), **arguments)
    lanes = {}
    for engine in ("jax", "native"):
        table = sl.compare(problem, {"run": dict(sampler=SAMPLER, step=STEP)}, seeds=[SEED, SEED + 1], epochs=EPOCHS,
                           engine=engine).table
        lanes[engine] = table[table.seed == SEED]
    return runs, lanes


def test_every_engine_gives_the_reference_run(data, expected, tmp_path):
    runs, lanes = _runs(data, tmp_path)
    assert {name: run.engine for name, run in runs.items()} == {"jax": "jax", "native": "native",
                                                                "streamed": "streamed", "devices": "jax"}
    reference = runs["jax"].history
    for name, run in runs.items():
        np.testing.assert_allclose(run.params, expected, rtol=0, atol=1e-10, err_msg=name)
        assert run.iterations == EPOCHS * SAMPLER.steps_per_epoch(37) and run.status == "max_epochs"
        for column in ("epoch", "iteration"):
            np.testing.assert_array_equal(run.history[column], reference[column], err_msg=name)
        for column in ("loss", "grad_norm"):
            np.testing.assert_allclose(run.history[column], reference[column], rtol=1e-10, err_msg=name)
    for engine, lane in lanes.items():
        for column in ("loss", "grad_norm", "gap", "dist"):
            np.testing.assert_allclose(lane[column].to_numpy(), runs[engine].history[column], rtol=1e-12,
                                       err_msg=engine)
