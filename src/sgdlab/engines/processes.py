"""Joining a run over several processes, and what a lost process becomes.

:func:`initialize` starts JAX's multi-controller runtime (``jax.distributed``, CPU collectives over
gloo) after a rendezvous of its own: process 0 listens at the coordinator's address and waits for
the others to announce themselves, each peer waits for it, and only when all are there does JAX
start. JAX alone would abort a process (SIGABRT, no Python exception) when a peer never comes; here
that is a :class:`TimeoutError` naming the address, the process and the missing ones, after
``timeout`` seconds. The same ``timeout`` is JAX's heartbeat and shutdown limit, so a process that
dies mid-run is noticed by the others within it.

A collective whose peer is gone fails inside an epoch; :func:`peer_loss_named` turns that failure
into a :class:`PeerLost` naming the address and this process. (After it, JAX's runtime ends the
process once its heartbeat limit passes: the run cannot go on without the lost peer.)
"""

from __future__ import annotations

import contextlib
import functools
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import jax

from sgdlab._helpers import validation

#: The address, this process and the number of processes of the run joined by :func:`initialize`.
_session: dict[str, Any] = {}
_HELLO, _GO = b"sgdlab-join", b"sgdlab-go\n"

Function = TypeVar("Function", bound=Callable[..., Any])


class PeerLost(ConnectionError):
    """A process of a run over several processes stopped answering mid-run."""


def initialize(coordinator_address: str, num_processes: int, process_id: int, timeout: float = 300.0) -> None:
    """Join a run over several processes (one per host): ``jax.distributed.initialize`` with CPU
    collectives over gloo, after every process has reached process 0 at ``coordinator_address``.

    Parameters
    ----------
    coordinator_address : str
        "host:port" where process 0 listens (the port free on its host, 1–65535).
    num_processes : int
        How many processes run together.
    process_id : int
        This process's number, 0 … num_processes − 1 (0 is the coordinator).
    timeout : float, default 300
        Seconds to wait for the others at the start (then a TimeoutError naming who is missing), and
        JAX's heartbeat limit during the run.

    Examples
    --------
    >>> import sgdlab as sl
    >>> try:
    ...     sl.distributed.initialize("127.0.0.1:0", num_processes=2, process_id=0)
    ... except ValueError as error:
    ...     print(error)
    coordinator_address must be 'host:port' with a port in [1, 65535]; got '127.0.0.1:0'.
    """
    host, port = _address(coordinator_address)
    num_processes = validation.integer("num_processes", num_processes)
    process_id = validation.integer("process_id", process_id, low=0, high=num_processes - 1)
    timeout = validation.positive_float("timeout", timeout)
    who = f"process {process_id} of {num_processes}"
    if num_processes > 1:
        if process_id == 0:
            _gather(host, port, num_processes, timeout, coordinator_address)
        else:
            _join(host, port, (process_id, num_processes), timeout, coordinator_address)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    seconds = max(1, round(timeout))
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, initialization_timeout=seconds,
                               heartbeat_timeout_seconds=seconds, shutdown_timeout_seconds=seconds)
    _session.update(address=coordinator_address, who=who)


def _address(text: Any) -> tuple[str, int]:
    """(host, port) of "host:port", or an error naming coordinator_address."""
    allowed = "'host:port' with a port in [1, 65535]"
    if not isinstance(text, str):
        validation.fail("coordinator_address", allowed, validation.shown(text), error=TypeError)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        validation.fail("coordinator_address", allowed, validation.shown(text))
    return host.strip("[]"), int(port)


def _gather(host: str, port: int, count: int, timeout: float, address: str) -> None:
    """Process 0: listen at the address until every other process has said hello, then tell each to go."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # past connections' TIME_WAIT, not a listener
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise OSError(error.errno, f"process 0 of {count} cannot listen at {address}: {error.strerror} (another "
                      "program holds the port, or the host is not this machine's); choose another "
                      "coordinator_address") from None
    peers: dict[int, socket.socket] = {}
    deadline = time.monotonic() + timeout
    with listener:
        listener.listen(count)
        try:
            while len(peers) < count - 1:
                listener.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    missing = sorted(set(range(1, count)) - set(peers))
                    raise TimeoutError(f"processes {missing} of {count} did not reach {address} within "
                                       f"{timeout:g} s (process 0 of {count}); start them with the same "
                                       "coordinator_address") from None
                _welcome(connection, count, peers, deadline)
            for connection in peers.values():
                connection.sendall(_GO)
            for connection in peers.values():   # the peers close first: this port stays free of TIME_WAIT
                connection.settimeout(max(deadline - time.monotonic(), 1.0))
                with contextlib.suppress(OSError):
                    connection.recv(1)
        finally:
            for connection in peers.values():
                connection.close()


def _welcome(connection: socket.socket, count: int, peers: dict[int, socket.socket], deadline: float) -> None:
    """Read a peer's hello ("sgdlab-join ID COUNT"); keep it when it is one of the expected processes."""
    connection.settimeout(max(deadline - time.monotonic(), 0.5))
    try:
        words = connection.recv(64).decode(errors="replace").split()
    except OSError:
        words = []
    if len(words) == 3 and words[0] == _HELLO.decode() and words[1].isdigit() and words[2] == str(count) \
            and 0 < int(words[1]) < count and int(words[1]) not in peers:
        peers[int(words[1])] = connection
        return
    connection.close()   # a stray connection, a second process with one id, or another num_processes


def _join(host: str, port: int, process: tuple[int, int], timeout: float, address: str) -> None:
    """A peer, ``process`` = (its id, the number of processes): reach process 0 (retrying until ``timeout``),
    say hello, and wait for it to say go."""
    who = f"process {process[0]} of {process[1]}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = socket.create_connection((host, port), timeout=1.0)
            break
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no coordinator answered at {address} within {timeout:g} s ({who}); "
                                   "start process 0 there first") from None
            time.sleep(0.1)
    with connection:
        connection.sendall(f"{_HELLO.decode()} {process[0]} {process[1]}\n".encode())
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            answer = connection.recv(len(_GO))
        except TimeoutError:
            answer = b""
        if answer != _GO:
            raise TimeoutError(f"the coordinator at {address} did not start the run within {timeout:g} s ({who}): "
                               "another process is missing, or one with the same process_id or another "
                               "num_processes reached it")


def peer_loss_named(function: Function) -> Function:
    """``function`` with a collective's failure after :func:`initialize` raised as :class:`PeerLost` naming
    the coordinator's address and this process."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except jax.errors.JaxRuntimeError as error:
            if not _session or "gloo" not in str(error).lower():
                raise
            raise PeerLost(f"{_session['who']} of the run coordinated at {_session['address']} lost a peer "
                           f"mid-run: {str(error).splitlines()[0]}") from error

    return guarded  # type: ignore[return-value]
