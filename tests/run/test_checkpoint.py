"""Checkpoints: a resumed run ends where an uninterrupted one does, bit for bit; bad checkpoints are refused
and left as they were."""

import json
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import optax
import pytest

import sgdlab as sl


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 6))
    return sl.least_squares(X, X @ rng.normal(size=6) + 0.1 * rng.normal(size=300))


@pytest.mark.parametrize("settings", [
    dict(sampler=sl.shuffled_cyclic(1), step=0.01, engine="native"),
    dict(sampler=sl.shuffled_cyclic(16), step=sl.inverse_time(0.05, 0.01), engine="jax", record_every=3),
    dict(sampler=sl.with_replacement(8), optimizer=optax.adam(0.01)),
], ids=["native", "jax-schedule", "adam"])
def test_resumed_run_equals_an_uninterrupted_one_bit_for_bit(problem, tmp_path, settings):
    path = tmp_path / "run.npz"
    whole = sl.minimize(problem, epochs=9, seed=5, **settings)
    sl.minimize(problem, epochs=4, seed=5, checkpoint=path, **settings)
    resumed = sl.minimize(problem, epochs=9, seed=5, checkpoint=path, resume=True, **settings)
    np.testing.assert_array_equal(resumed.params, whole.params)
    assert resumed.iterations == whole.iterations and resumed.engine == whole.engine
    assert set(resumed.history.epoch) >= set(whole.history.epoch)


def test_an_expectation_resumes_by_steps(tmp_path):
    problem = sl.expectation(lambda theta, omega: 0.5 * (theta - omega) ** 2,
                             lambda key: __import__("jax").random.normal(key), np.zeros(()))
    path = tmp_path / "run.npz"
    whole = sl.minimize(problem, sl.iid(4), step=0.05, steps=400, record_every=100)
    sl.minimize(problem, sl.iid(4), step=0.05, steps=200, record_every=100, checkpoint=path)
    resumed = sl.minimize(problem, sl.iid(4), step=0.05, steps=400, record_every=100, checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.params, whole.params)


def test_resume_without_a_checkpoint_file_starts_afresh(problem, tmp_path):
    path = tmp_path / "run.npz"
    result = sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=2, checkpoint=path, resume=True)
    assert path.is_file() and result.epochs == 2
    state = json.loads(str(np.load(path)["state"]))
    assert state["epoch"] == 2 and len(state["rows"]) == 3


def test_a_run_killed_with_sigkill_resumes_to_the_uninterrupted_params(tmp_path):
    """A child process checkpoints every epoch of a long run and is killed; resuming with a budget a few
    epochs past the last checkpoint ends with the params of a run that was never interrupted."""
    path = tmp_path / "run.npz"
    setup = textwrap.dedent("""
        import numpy as np, sgdlab as sl
        rng = np.random.default_rng(1)
        X = rng.normal(size=(20000, 20))
        problem = sl.least_squares(X, X @ rng.normal(size=20))
        settings = dict(sampler=sl.shuffled_cyclic(1), step=1e-3, seed=2, engine="jax")
    """)
    child = subprocess.Popen([sys.executable, "-c", setup + f"sl.minimize(problem, epochs=100_000, "
                              f"checkpoint={str(path)!r}, **settings)"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and _saved_epoch(path) < 3:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    reached = _saved_epoch(path)
    assert reached >= 3, child.stderr.read().decode()
    namespace = {}
    exec(setup, namespace)
    problem, settings = namespace["problem"], namespace["settings"]
    resumed = sl.minimize(problem, epochs=reached + 2, checkpoint=path, resume=True, **settings)
    whole = sl.minimize(problem, epochs=reached + 2, **settings)
    np.testing.assert_array_equal(resumed.params, whole.params)


def _saved_epoch(path) -> int:
    try:
        return json.loads(str(np.load(path)["state"]))["epoch"]
    except (OSError, ValueError, KeyError):
        return -1


@pytest.mark.parametrize("change, text", [
    (dict(seed=6), "saved by a run with another seed"),
    (dict(step=0.02), "saved by a run with another schedule"),
    (dict(sampler=sl.cyclic(4)), "saved by a run with another sampler"),
    (dict(params0=np.ones(6)), "saved by a run with another starting point params0"),
])
def test_a_checkpoint_of_another_run_is_refused_and_left_untouched(problem, tmp_path, change, text):
    path = tmp_path / "run.npz"
    settings = dict(sampler=sl.shuffled_cyclic(4), step=0.01, seed=5)
    sl.minimize(problem, epochs=2, checkpoint=path, **settings)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(text)):
        sl.minimize(problem, epochs=4, checkpoint=path, resume=True, **(settings | change))
    assert path.read_bytes() == before


def test_a_checkpoint_of_another_problem_is_refused(problem, tmp_path):
    path = tmp_path / "run.npz"
    sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=2, checkpoint=path)
    rng = np.random.default_rng(0)
    other = sl.least_squares(rng.normal(size=(300, 6)), rng.normal(size=300))
    with pytest.raises(ValueError, match="another problem \\(data or loss\\)"):
        sl.minimize(other, sl.cyclic(4), step=0.01, epochs=4, checkpoint=path, resume=True)
    wider = sl.least_squares(rng.normal(size=(300, 7)), rng.normal(size=300))
    with pytest.raises(ValueError, match="parameters of other shapes or dtypes"):
        sl.minimize(wider, sl.cyclic(4), step=0.01, epochs=4, checkpoint=path, resume=True)


@pytest.mark.parametrize("kwargs, text", [
    (dict(resume=True), "resume must be False when no checkpoint= path is given; got True."),
    (dict(checkpoint=3), "checkpoint must be a file path; got 3."),
    (dict(checkpoint="no/such/folder/run.npz"), "checkpoint must be a path in an existing folder"),
    (dict(checkpoint="x.npz", checkpoint_every=0), "checkpoint_every must be an integer >= 1; got 0."),
])
def test_bad_checkpoint_arguments_name_the_parameter(problem, kwargs, text):
    with pytest.raises((ValueError, TypeError), match=re.escape(text)):
        sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=1, **kwargs)


def test_a_fresh_run_does_not_overwrite_a_saved_checkpoint(problem, tmp_path):
    path = tmp_path / "run.npz"
    path.write_bytes(b"my saved work")
    with pytest.raises(ValueError, match="which exists"):
        sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=1, checkpoint=path)
    with pytest.raises(ValueError, match=r"which is not an \.npz archive"):
        sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=1, checkpoint=path, resume=True)
    assert path.read_bytes() == b"my saved work"
