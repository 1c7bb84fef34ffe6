"""A real Dask cluster for the tests: a scheduler and worker processes started here on 127.0.0.1, as
`dask scheduler` / `dask worker` would be."""

import contextlib
import os
import signal
import socket
import subprocess
import sys

QUIET = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_scheduler(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", str(port), "--no-dashboard"], **QUIET)


def start_worker(address: str, name: str | None = None, nanny: bool = True) -> subprocess.Popen:
    """A single-threaded worker; with its nanny (the process started, the worker its child), in a process group
    of its own so that :func:`kill_group` kills both."""
    options = [*(["--name", name] if name else []), *([] if nanny else ["--no-nanny"])]
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                             "--no-dashboard", *options], start_new_session=True, **QUIET)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process and every process of its group (a nanny and its worker), reaped."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def without_time(table):
    return table.drop(columns="time")


@contextlib.contextmanager
def running_cluster(workers: int):
    """(address, the live workers' nannies — a list the test may change —, the scheduler): a scheduler and
    ``workers`` single-threaded workers with their nannies, all killed at the end."""
    import distributed

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler, started = start_scheduler(port), []
    try:
        started.extend(start_worker(address) for _ in range(workers))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=90)
        yield address, started, scheduler
    finally:
        for worker in started:
            if worker.poll() is None:
                kill_group(worker)
        scheduler.kill()
        scheduler.wait()
