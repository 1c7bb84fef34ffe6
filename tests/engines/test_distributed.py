"""Data parallel runs: batches split over 4 (fake CPU) devices, or over 2 processes talking over gloo,
give the single-device run."""

import re
import socket
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

import sgdlab as sl

FOUR_DEVICES = textwrap.dedent("""
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np, optax, sgdlab as sl
    assert len(jax.devices()) == 4
    rng = np.random.default_rng(0)
    X = rng.normal(size=(301, 7))
    y = X @ rng.normal(size=7) + 0.1 * rng.normal(size=301)
    problems = [sl.least_squares(X, y), sl.logistic_regression(X, y > 0, l2=0.01),
                sl.softmax_regression(X, np.digitize(y, [-1.0, 1.0]))]
    samplers = [sl.shuffled_cyclic(8), sl.with_replacement(6), sl.without_replacement(12), sl.cyclic(5),
                sl.full_batch()]   # 6 and 5 are not multiples of 4: padded with masked entries
    for problem in problems:
        for sampler in samplers:
            one = sl.minimize(problem, sampler, step=0.05, epochs=3, seed=1, engine="jax")
            four = sl.minimize(problem, sampler, step=0.05, epochs=3, seed=1, devices=jax.devices())
            assert four.engine == "jax"
            np.testing.assert_allclose(four.params, one.params, rtol=0, atol=1e-10)
            np.testing.assert_allclose(four.history.loss, one.history.loss, rtol=0, atol=1e-10)
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    adam = dict(sampler=sl.shuffled_cyclic(16), optimizer=optax.adam(0.01), epochs=3)
    np.testing.assert_allclose(sl.minimize(problems[0], devices=mesh, **adam).params,
                               sl.minimize(problems[0], **adam).params, rtol=0, atol=1e-10)
    def squared_error(theta, example):
        x, target = example
        return 0.5 * (x @ theta - target) ** 2
    X, y = X[:300], y[:300]   # 4 devices hold 75 rows each
    whole = sl.finite_sum(squared_error, (X, y), np.zeros(7))
    rows = sl.distributed.row_block(300)
    sharded = sl.finite_sum(squared_error, sl.distributed.shard_rows((X[rows], y[rows])), np.zeros(7))
    assert sharded.is_sharded and sharded.n == 300 and rows == slice(0, 300)
    assert [shard.data.shape for shard in sharded.data[0].addressable_shards] == [(75, 7)] * 4
    for sampler in samplers:
        one = sl.minimize(whole, sampler, step=0.05, epochs=3, seed=1)
        four = sl.minimize(sharded, sampler, step=0.05, epochs=3, seed=1)   # devices: those holding the rows
        np.testing.assert_allclose(four.params, one.params, rtol=0, atol=1e-10)
        np.testing.assert_allclose(four.history.loss, one.history.loss, rtol=0, atol=1e-10)
    for call, text in [(lambda: sl.distributed.row_block(301), "n must be a multiple of the 4 devices"),
                       (lambda: sl.distributed.shard_rows((X[:298], y[:298])), "local_data must be a positive "
                        "multiple of this process's 4 devices in rows (each device holds as many); got 298 rows."),
                       (lambda: sl.minimize(sharded, sl.cyclic(4), step=0.1, devices=jax.devices()[:2]),
                        "devices must be the devices holding the problem's rows")]:
        try:
            call()
        except ValueError as error:
            assert text in str(error), error
        else:
            raise AssertionError(text)
    print("four devices = one device")
""")


def test_four_devices_give_the_single_device_run():
    result = subprocess.run([sys.executable, "-c", FOUR_DEVICES], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "four devices = one device" in result.stdout


def test_one_device_mesh_gives_the_plain_run(regression_data):
    problem = sl.least_squares(*regression_data)
    plain = sl.minimize(problem, sl.shuffled_cyclic(7), step=0.05, epochs=2, engine="jax")
    meshed = sl.minimize(problem, sl.shuffled_cyclic(7), step=0.05, epochs=2, devices=jax.devices())
    np.testing.assert_allclose(meshed.params, plain.params, rtol=0, atol=1e-12)


@pytest.mark.parametrize("devices, error, text", [
    ([], TypeError, "devices must be a non-empty list of JAX devices such as jax.devices(); got []."),
    ("cpu", TypeError, "devices must be a non-empty list of JAX devices"),
    (3, TypeError, "devices must be a list of JAX devices such as jax.devices(), or a 1-D mesh; got 3."),
    (jax.devices() * 2, ValueError, "devices must be distinct devices"),
])
def test_bad_devices_are_refused(regression_data, devices, error, text):
    problem = sl.least_squares(*regression_data)
    with pytest.raises(error, match=re.escape(text)):
        sl.minimize(problem, sl.cyclic(4), step=0.05, epochs=1, devices=devices)


def test_devices_run_on_the_jax_engine(regression_data):
    problem = sl.least_squares(*regression_data)
    assert sl.minimize(problem, sl.cyclic(1), step=0.05, epochs=1, devices=jax.devices()).engine == "jax"
    with pytest.raises(ValueError, match="but devices are given"):
        sl.minimize(problem, sl.cyclic(1), step=0.05, epochs=1, devices=jax.devices(), engine="native")


def test_an_expectation_refuses_devices():
    problem = sl.expectation(lambda theta, omega: 0.5 * (theta - omega) ** 2, lambda key: jax.random.normal(key),
                             np.zeros(()))
    with pytest.raises(ValueError, match="devices must be left out for an expectation"):
        sl.minimize(problem, sl.iid(4), step=0.1, steps=10, devices=jax.devices())


TWO_PROCESSES = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax, numpy as np, sgdlab as sl
    process, port, out, checkpoint = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    sl.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process, timeout=60)
    assert len(jax.devices()) == 4 and len(jax.local_devices()) == 2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(301, 7))
    labels = X @ rng.normal(size=7) > 0
    problem = sl.logistic_regression(X, labels, l2=0.01)   # every process holds every row
    replicated = sl.minimize(problem, sl.shuffled_cyclic(8), step=0.5, epochs=3, seed=1, devices=jax.devices())
    rows = sl.distributed.row_block(300)                   # this process holds its 150 rows only
    assert rows == slice(150 * process, 150 * (process + 1))
    data = sl.distributed.shard_rows((X[:300][rows], labels[:300][rows].astype(float)))
    sharded = [sl.minimize(sl.finite_sum(logistic, data, np.zeros(7)), sampler, step=0.5, epochs=3, seed=1).params
               for sampler in (sl.without_replacement(8), sl.full_batch())]
    sharded_problem = sl.finite_sum(logistic, data, np.zeros(7))   # checkpoints: both processes write one file
    sl.minimize(sharded_problem, sl.shuffled_cyclic(8), step=0.5, epochs=2, seed=1, checkpoint=checkpoint)
    resumed = sl.minimize(sharded_problem, sl.shuffled_cyclic(8), step=0.5, epochs=4, seed=1, checkpoint=checkpoint,
                          resume=True)
    assert resumed.history.epoch.tolist() == [0, 1, 2, 3, 4]
    uninterrupted = sl.minimize(sharded_problem, sl.shuffled_cyclic(8), step=0.5, epochs=4, seed=1)
    assert np.array_equal(resumed.params, uninterrupted.params)
    try:
        sl.least_squares(*data)
    except TypeError as error:   # the built-in models need every row for L and θ*
        assert "X must be held whole in this process" in str(error), error
    else:
        raise AssertionError("least squares took rows spread over processes")
    np.save(out, np.stack([replicated.params, *sharded]))
""")

LOGISTIC = textwrap.dedent("""
    def logistic(theta, example):
        x, label = example
        margin = x @ theta
        return jax.numpy.logaddexp(0.0, margin) - label * margin + 0.005 * theta @ theta
""")


def test_two_processes_over_gloo_give_the_single_process_run(tmp_path):
    """Two processes of two devices each: with the data replicated, and with each process holding only
    its half of the rows (also checkpointed to one file and resumed)."""
    with socket.socket() as probe:   # a free port for the coordinator
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    outs = [tmp_path / f"params{process}.npy" for process in (0, 1)]
    workers = [subprocess.Popen([sys.executable, "-c", LOGISTIC + TWO_PROCESSES, str(process), port, str(out),
                                 str(tmp_path / "run.npz")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for process, out in enumerate(outs)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()[-3000:]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(301, 7))
    labels = X @ rng.normal(size=7) > 0
    problem = sl.logistic_regression(X, labels, l2=0.01)
    namespace = {"jax": jax}
    exec(LOGISTIC, namespace)
    whole = sl.finite_sum(namespace["logistic"], (X[:300], labels[:300].astype(float)), np.zeros(7))
    single = [sl.minimize(problem, sl.shuffled_cyclic(8), step=0.5, epochs=3, seed=1, engine="jax").params,
              *(sl.minimize(whole, sampler, step=0.5, epochs=3, seed=1).params
                for sampler in (sl.without_replacement(8), sl.full_batch()))]
    for out in outs:
        np.testing.assert_allclose(np.load(out), np.stack(single), rtol=0, atol=1e-10)


def test_a_missing_coordinator_is_a_timeout_naming_its_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]   # closed again below: nobody listens there
    code = (f"import sgdlab as sl\ntry:\n    sl.distributed.initialize('127.0.0.1:{port}', 2, 1, timeout=2)\n"
            "except TimeoutError as error:\n    print(error)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert f"no coordinator answered at 127.0.0.1:{port} within 2 s (process 1 of 2)" in result.stdout


@pytest.mark.parametrize("arguments, text", [
    (("127.0.0.1:1234", 2, 2), "process_id must be an integer in [0, 1]; got 2."),
    (("localhost", 2, 0), "coordinator_address must be 'host:port' with a port in [1, 65535]; got 'localhost'."),
    (("localhost:http", 2, 0), "coordinator_address must be 'host:port' with a port in [1, 65535]; got 'localhost:http'."),
    (("localhost:70000", 2, 0), "coordinator_address must be 'host:port' with a port in [1, 65535]; got 'localhost:70000'."),
    ((":1234", 2, 0), "coordinator_address must be 'host:port' with a port in [1, 65535]; got ':1234'."),
    ((1234, 2, 0), "coordinator_address must be 'host:port' with a port in [1, 65535]; got 1234."),
    (("127.0.0.1:1234", 0, 0), "num_processes must be an integer >= 1; got 0."),
])
def test_bad_initialize_arguments_are_refused(arguments, text):
    with pytest.raises((ValueError, TypeError), match=re.escape(text)):
        sl.distributed.initialize(*arguments)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_port_in_use_is_refused_before_jax_starts():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(OSError, match=f"process 0 of 2 cannot listen at 127.0.0.1:{port}: Address already in use"):
            sl.distributed.initialize(f"127.0.0.1:{port}", 2, 0, timeout=1)


def test_a_peer_that_never_comes_is_a_timeout_naming_it():
    """JAX alone would abort process 0 (SIGABRT); the rendezvous before it raises, naming who is missing."""
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=re.escape(f"processes [1, 2] of 3 did not reach 127.0.0.1:{port} within "
                                                     "1.5 s (process 0 of 3)")):
        sl.distributed.initialize(f"127.0.0.1:{port}", 3, 0, timeout=1.5)
    assert time.monotonic() - started < 5


KILLED_PEER = textwrap.dedent("""
    import sys, jax, numpy as np, sgdlab as sl
    process, port = int(sys.argv[1]), sys.argv[2]
    sl.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process, timeout=4)
    X = np.random.default_rng(0).normal(size=(400, 5))
    problem = sl.least_squares(X, X.sum(1))
    sl.minimize(problem, sl.shuffled_cyclic(1), step=0.001, epochs=1, devices=jax.devices(), engine="jax")
    print("running", flush=True)
    sl.minimize(problem, sl.shuffled_cyclic(1), step=0.001, epochs=100_000, devices=jax.devices(), engine="jax")
""")


def test_a_killed_peer_ends_the_survivor_within_the_timeout_naming_the_run():
    port = str(_free_port())
    workers = [subprocess.Popen([sys.executable, "-c", KILLED_PEER, str(process), port], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for process in (0, 1)]
    lines = iter(workers[0].stdout.readline, "")
    assert any(line.strip() == "running" for line in lines)   # (gloo prints its own lines first)
    workers[1].kill()
    killed = time.monotonic()
    _, err = workers[0].communicate(timeout=60)
    workers[1].wait()
    assert time.monotonic() - killed < 4 + 10   # JAX's heartbeat limit is the timeout; some slack for the machine
    assert workers[0].returncode != 0
    assert f"PeerLost: process 0 of 2 of the run coordinated at 127.0.0.1:{port} lost a peer mid-run" in err
