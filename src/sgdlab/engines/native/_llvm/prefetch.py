"""A software prefetch for the native loops: ask the CPU to bring memory into cache ahead of its use.

``prefetch(array, position)`` emits LLVM's ``llvm.prefetch`` (a read, kept in all cache levels) for
the address of ``array.flat[position]``. It is a hint: it never faults, never changes a value and
costs no wait, unlike reading the element, which stalls the loop until memory answers. The loops
visit rows in random order, which the hardware prefetcher cannot guess; prefetching the rows of a
step or two ahead overlaps their arrival with the current step's arithmetic.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: llvm.prefetch's arguments: read (0, not write), locality 3 (keep in every cache level), data cache (1).
_READ, _KEEP_EVERYWHERE, _DATA = 0, 3, 1


@intrinsic
def prefetch(typingctx, array, position):
    """Prefetch the cache line holding element ``position`` of the C-contiguous ``array`` (flat index)."""
    if not isinstance(array, types.Array) or not isinstance(position, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        offset = context.cast(builder, args[1], signature.args[1], types.intp)
        address = builder.bitcast(builder.gep(view.data, [offset]), ir.IntType(8).as_pointer())
        int32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [address.type], ir.FunctionType(ir.VoidType(), [address.type, int32, int32, int32]))
        builder.call(function, [address, int32(_READ), int32(_KEEP_EVERYWHERE), int32(_DATA)])
        return context.get_dummy_value()

    return types.void(array, position), codegen
