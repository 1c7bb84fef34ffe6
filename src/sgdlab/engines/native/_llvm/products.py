"""Small dense matrix products for the native network step: C ← C + c · A B, in register tiles.

C is covered by tiles of TILE_ROWS × TILE_COLUMNS (4 × 16) numbers, each summed in eight vector
registers of eight float64 over the whole inner dimension k: at every k a tile loads 16 numbers of
B's row k (two vectors) and 4 of A's column k (each broadcast to a vector) for 8 fused
multiply-adds of 8 numbers, then adds c times the sums to C once. Nothing is summed across a
vector's lanes, so the time does not depend on how short k is. The tile is written in LLVM's
vector instructions (:func:`_add_tile`): a compiler given the scalar loops vectorizes along k
instead and spends as long on the final horizontal sums as on the products when k is 32. Columns
left over take a tile of 4 × 8 when 8 or more remain, else dot products; a last tile of fewer than 4
rows repeats C's last row. At the network's shapes the tiles run at about twice the speed of blocks
of dot products and of NumPy's BLAS called from Numba (benchmarks/NOTES.md, "The network loop").
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from sgdlab.engines.native._llvm.flags import REORDER

#: float64 numbers in a vector register (512 bits; two 256-bit registers where AVX-512 is absent).
LANES = 8
#: The rows and columns of C a tile sums in registers: 4 rows × 2 vectors.
TILE_ROWS, TILE_VECTORS = 4, 2
TILE_COLUMNS = LANES * TILE_VECTORS


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def add_product(A, B, C, factor):
    """C[i, j] += factor · Σₖ A[i, k] B[k, j] for i < m, j < n (A: m × k, B: k × n, C: m × n; any of
    them may be a strided view, tiles only where B's and C's rows are contiguous)."""
    m, n = C.shape
    wide, narrow = n - n % TILE_COLUMNS, n - n % LANES
    if B.strides[1] != B.itemsize or C.strides[1] != C.itemsize:
        wide = narrow = 0
    for i in range(0, m, TILE_ROWS):
        for j in range(0, wide, TILE_COLUMNS):
            _add_wide_tile(A, B, C, i, j, factor)
        if narrow > wide:
            _add_narrow_tile(A, B, C, i, wide, factor)
    for i in range(m):
        for j in range(narrow, n):
            total = 0.0
            for k in range(A.shape[1]):
                total += A[i, k] * B[k, j]
            C[i, j] += factor * total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def transpose_into(A, out):
    """out[j, i] = A[i, j], written along out's rows (the stores, not the loads, are what must stay in order)."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = A[i, j]


def _tile_adder(vectors: int):
    """An intrinsic adding to a tile of TILE_ROWS × (LANES · ``vectors``) numbers of C, see :func:`_add_tile`."""

    @intrinsic
    def add_tile(typingctx, A, B, C, i, j, factor):
        if not all(isinstance(array, types.Array) and array.dtype == types.float64 and array.ndim == 2
                   for array in (A, B, C)):
            return None

        def codegen(context, builder, signature, args):
            _add_tile(context, builder, signature, args, vectors)
            return context.get_dummy_value()

        return types.void(A, B, C, i, j, factor), codegen

    return add_tile


def _add_tile(context, builder, signature, args, vectors: int):
    """C[i:i+4, j:j+w] += factor · A[i:i+4, :] B[:, j:j+w], w = LANES · ``vectors``, summed in vector
    registers (B's and C's rows contiguous along those w columns). Rows past C's last are read and
    written as copies of the last: all of a tile's new values are computed before any is stored, so
    the copies store the same numbers."""
    a, b, c = ((context.make_array(kind)(context, builder, value), kind)
               for kind, value in zip(signature.args[:3], args[:3], strict=True))
    first, column = (context.cast(builder, value, kind, types.intp)
                     for value, kind in zip(args[3:5], signature.args[3:5], strict=True))
    last = builder.sub(cgutils.unpack_tuple(builder, c[0].shape, 2)[0], ir.Constant(first.type, 1))
    rows = [builder.select(builder.icmp_signed("<", _plus(builder, first, r), last), _plus(builder, first, r), last)
            for r in range(TILE_ROWS)]
    columns = [_plus(builder, column, LANES * h) for h in range(vectors)]
    vector = ir.VectorType(ir.DoubleType(), LANES)
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3), "llvm.fma.v8f64")
    sums = [[cgutils.alloca_once_value(builder, ir.Constant(vector, [0.0] * LANES)) for _ in columns] for _ in rows]
    with cgutils.for_range(builder, cgutils.unpack_tuple(builder, a[0].shape, 2)[1]) as loop:
        rows_of_b = [_load(builder, _address(context, builder, b, loop.index, j), vector) for j in columns]
        for row, row_sums in zip(rows, sums, strict=True):
            entry = _splat(builder, builder.load(_address(context, builder, a, row, loop.index)), vector)
            for row_of_b, total in zip(rows_of_b, row_sums, strict=True):
                builder.store(builder.call(fma, [entry, row_of_b, builder.load(total)]), total)
    scale = _splat(builder, args[5], vector)
    addresses = [[_address(context, builder, c, row, j) for j in columns] for row in rows]
    updated = [[builder.call(fma, [scale, builder.load(total), _load(builder, address, vector)])
                for total, address in zip(row_sums, row_addresses, strict=True)]
               for row_sums, row_addresses in zip(sums, addresses, strict=True)]
    for row_values, row_addresses in zip(updated, addresses, strict=True):
        for value, address in zip(row_values, row_addresses, strict=True):
            builder.store(value, builder.bitcast(address, vector.as_pointer()), align=8)


#: Tiles of 4 × 16 and of 4 × 8 numbers (the columns left when fewer than 16 but at least 8 remain).
_add_wide_tile, _add_narrow_tile = _tile_adder(TILE_VECTORS), _tile_adder(1)


def _address(context, builder, array_and_kind, row, column):
    """The address of array[row, column]."""
    array, kind = array_and_kind
    shape, strides = (cgutils.unpack_tuple(builder, values, 2) for values in (array.shape, array.strides))
    return cgutils.get_item_pointer2(context, builder, array.data, shape, strides, kind.layout, [row, column])


def _load(builder, address, vector):
    """The vector of LANES consecutive float64 from ``address`` (aligned to 8 bytes)."""
    return builder.load(builder.bitcast(address, vector.as_pointer()), align=8)


def _splat(builder, value, vector):
    """A vector with ``value`` in every lane."""
    lane = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(lane, ir.Constant(vector, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))


def _plus(builder, index, offset: int):
    return builder.add(index, ir.Constant(index.type, offset))
