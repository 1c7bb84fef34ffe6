"""Threads of one native run meeting at every step: flags written with release and read with acquire,
and a wait that spins, then yields the core.

Thread r of T announces that it has finished step t by storing t + 1 in its flag (a release store:
everything it wrote before, its part of the step's gradient, is visible to a thread that reads the
flag with an acquire load and sees t + 1). :func:`wait_for_others` returns once every other thread's
flag is at least t + 1. Flags only grow, so no reset is needed between steps. Each flag sits on its
own cache line (FLAG_STRIDE int64 apart), so one thread's store does not evict the other's line.

A step of a large batch lasts microseconds, far shorter than the operating system's time slice,
so the threads spin rather than sleep on a lock; after SPINS_BEFORE_YIELD unanswered looks the
waiting thread yields its core (``sched_yield``), so a run whose threads share one core (another
program busy, or a machine with one core free) still moves on instead of spinning out time slices.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: int64 entries between two threads' flags: one 64-byte cache line each.
FLAG_STRIDE = 8
#: Looks at a flag before the waiting thread yields its core once.
SPINS_BEFORE_YIELD = 2_000


@numba.njit(cache=True)
def flags_for(threads: int) -> np.ndarray:
    """Zeroed flags for ``threads`` threads (one cache line each)."""
    return np.zeros(threads * FLAG_STRIDE, dtype=np.int64)


def _element_address(context, builder, array_type, array, index, index_type):
    view = context.make_array(array_type)(context, builder, array)
    return builder.gep(view.data, [context.cast(builder, index, index_type, types.intp)])


@intrinsic
def load_acquire(typingctx, array, index):
    """array[index] of an integer array, read with acquire ordering."""
    if not isinstance(array, types.Array) or not isinstance(array.dtype, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        address = _element_address(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        return builder.load_atomic(address, "acquire", array.dtype.bitwidth // 8)

    return array.dtype(array, index), codegen


@intrinsic
def store_release(typingctx, array, index, value):
    """array[index] = value for an integer array, written with release ordering."""
    if not isinstance(array, types.Array) or not isinstance(array.dtype, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        address = _element_address(context, builder, signature.args[0], args[0], args[1], signature.args[1])
        stored = context.cast(builder, args[2], signature.args[2], signature.args[0].dtype)
        builder.store_atomic(stored, address, "release", array.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@intrinsic
def yield_core(typingctx):
    """Give the core to another runnable thread (POSIX ``sched_yield``)."""

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen


@numba.njit(cache=True, inline="always")
def arrive(flags, thread, step):
    """Thread ``thread`` has finished step ``step``: publish it (and everything written before)."""
    store_release(flags, thread * FLAG_STRIDE, step + 1)


@numba.njit(cache=True, inline="always")
def wait_for_others(flags, threads, thread, step):
    """Return once every thread other than ``thread`` has arrived at the end of step ``step``."""
    for other in range(threads):
        if other == thread:
            continue
        looks = 0
        while load_acquire(flags, other * FLAG_STRIDE) <= step:
            looks += 1
            if looks == SPINS_BEFORE_YIELD:
                yield_core()
                looks = 0
