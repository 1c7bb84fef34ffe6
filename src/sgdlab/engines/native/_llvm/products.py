"""Small dense matrix products for the native network step: C ← C + c · A B, in register tiles.

C is covered by tiles of r rows × 2 vectors of the host's widest vector registers, each summed in 2r
vector registers over the whole inner dimension k: at every k a tile loads two vectors of B's row k
and r numbers of A's column k (each broadcast to a vector) for 2r fused multiply-adds, then adds c
times the sums to C once. The tiles are chosen from the CPU (:data:`VECTOR_BYTES`, from the features
LLVM reports for the host, which Numba compiles and caches for): with AVX-512, vectors of 8 float64 or
16 float32 and r = 8 (16 accumulators, two rows of B and a broadcast: 19 of its 32 registers); with
AVX2, vectors of 4 float64 or 8 float32 and r = 4 (11 of its 16 registers), so no tile spills. Rows
past the last multiple of r take tiles of 4 rows, the last of which repeats C's last row when fewer
remain. Nothing is summed across a vector's lanes, so the time does not depend on how short k is.
The tile is written in LLVM's vector instructions (:func:`_tile_code`): a compiler given the scalar
loops vectorizes along k instead and spends as long on the final horizontal sums as on the products
when k is 32. Columns left over take a tile of one vector a row when a vector's width or more remain,
then one of half a vector (so 8 float32 columns still take a tile with AVX-512), else dot products.
float32 and float64 arrays each get their own tiles (A, B and C all of one type). At the network's
shapes the tiles run at about twice the speed of blocks of dot products and of NumPy's BLAS called
from Numba (benchmarks/NOTES.md, "The network loop").
"""

from __future__ import annotations

import llvmlite.binding
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from sgdlab.engines.native._llvm.flags import REORDER


def host_vector_bytes() -> int:
    """The width of the host's widest vector registers in bytes: 64 with AVX-512, 32 with AVX or AVX2,
    else 16 (SSE, NEON), as LLVM reports the features of the CPU it compiles for."""
    try:
        features = llvmlite.binding.get_host_cpu_features()
    except RuntimeError:   # LLVM knows no feature list for this host
        return 16
    return 64 if features.get("avx512f") else 32 if features.get("avx") else 16


#: Bytes of a vector register on this host: a tile's vectors hold VECTOR_BYTES / 8 float64 or / 4 float32.
VECTOR_BYTES = host_vector_bytes()
#: The rows of the tallest tiles, and the vectors a tile row: 8 × 2 takes 16 accumulators (of AVX-512's 32 vector
#: registers); with 16 registers (AVX2, SSE) 4 × 2, which leaves room for B's two vectors and a broadcast.
TALL_ROWS, TILE_VECTORS = (8 if VECTOR_BYTES == 64 else 4), 2
#: The rows of the tiles that cover the last rows when C's are not a multiple of TALL_ROWS.
SHORT_ROWS = 4
#: The array types the tiles take (A, B and C all of one).
TILE_TYPES = (types.float32, types.float64)


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def add_product(A, B, C, factor):
    """C[i, j] += factor · Σₖ A[i, k] B[k, j] for i < m, j < n (A: m × k, B: k × n, C: m × n, one float type;
    any of them may be a strided view, tiles only where B's and C's rows are contiguous)."""
    m, n = C.shape
    lanes = VECTOR_BYTES // C.itemsize
    wide, narrow, half = n - n % (lanes * TILE_VECTORS), n - n % lanes, n - n % (lanes // 2)
    if B.strides[1] != B.itemsize or C.strides[1] != C.itemsize:
        wide = narrow = half = 0
    tall = m - m % TALL_ROWS
    for i in range(0, tall, TALL_ROWS):
        _add_tile_row(A, B, C, i, factor, TALL_ROWS, lanes, wide, narrow, half)
    for i in range(tall, m, SHORT_ROWS):
        _add_tile_row(A, B, C, i, factor, SHORT_ROWS, lanes, wide, narrow, half)
    for i in range(m):
        for j in range(half, n):
            total = 0.0
            for k in range(A.shape[1]):
                total += A[i, k] * B[k, j]
            C[i, j] += factor * total


@numba.njit(cache=True, inline="always", error_model="numpy")
def _add_tile_row(A, B, C, i, factor, rows, lanes, wide, narrow, half):
    """The tiles of ``rows`` rows from row i: 2 vectors wide up to column ``wide``, then one of 1 vector and one of
    half a vector where the columns up to ``narrow`` and ``half`` leave room."""
    for j in range(0, wide, lanes * TILE_VECTORS):
        _add_tile(A, B, C, i, j, factor, rows, TILE_VECTORS, 1)
    if narrow > wide:
        _add_tile(A, B, C, i, wide, factor, rows, 1, 1)
    if half > narrow:
        _add_tile(A, B, C, i, narrow, factor, rows, 1, 2)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def transpose_into(A, out):
    """out[j, i] = A[i, j], written along out's rows (the stores, not the loads, are what must stay in order)."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = A[i, j]


@intrinsic
def _add_tile(typingctx, A, B, C, i, j, factor, rows, vectors, split):
    """C[i:i+r, j:j+w] += factor · A[i:i+r, :] B[:, j:j+w] for r = ``rows`` and w = ``vectors`` vectors, each
    1/``split`` of the host's width (the three constants), see :func:`_tile_code`."""
    arrays = (A, B, C)
    if not all(isinstance(array, types.Array) and array.ndim == 2 and array.dtype == C.dtype for array in arrays) \
            or C.dtype not in TILE_TYPES or not all(isinstance(value, types.IntegerLiteral)
                                                   for value in (rows, vectors, split)):
        return None
    shape = (rows.literal_value, vectors.literal_value, split.literal_value)

    def codegen(context, builder, signature, args):
        _tile_code(context, builder, signature, args, *shape)
        return context.get_dummy_value()

    return types.void(A, B, C, i, j, factor, rows, vectors, split), codegen


def _tile_code(context, builder, signature, args, tile_rows: int, vectors: int, split: int):
    """C[i:i+r, j:j+w] += factor · A[i:i+r, :] B[:, j:j+w], r = ``tile_rows``, w = ``vectors`` vectors of C's type
    (1/``split`` of the host's width each), summed in vector registers (B's and C's rows contiguous along those w
    columns). Rows past C's last are read and written as copies of the last: all of a tile's new values are computed
    before any is stored, so the copies store the same numbers."""
    element = signature.args[2].dtype
    lanes, size = VECTOR_BYTES * 8 // element.bitwidth // split, element.bitwidth // 8
    vector = ir.VectorType(context.get_value_type(element), lanes)
    a, b, c = ((context.make_array(kind)(context, builder, value), kind)
               for kind, value in zip(signature.args[:3], args[:3], strict=True))
    first, column = (context.cast(builder, value, kind, types.intp)
                     for value, kind in zip(args[3:5], signature.args[3:5], strict=True))
    last = builder.sub(cgutils.unpack_tuple(builder, c[0].shape, 2)[0], ir.Constant(first.type, 1))
    rows = [builder.select(builder.icmp_signed("<", _plus(builder, first, r), last), _plus(builder, first, r), last)
            for r in range(tile_rows)]
    columns = [_plus(builder, column, lanes * h) for h in range(vectors)]
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                         f"llvm.fma.v{lanes}f{element.bitwidth}")
    sums = [[cgutils.alloca_once_value(builder, ir.Constant(vector, [0.0] * lanes)) for _ in columns] for _ in rows]
    with cgutils.for_range(builder, cgutils.unpack_tuple(builder, a[0].shape, 2)[1]) as loop:
        rows_of_b = [_load(builder, _address(context, builder, b, loop.index, j), vector, size) for j in columns]
        for row, row_sums in zip(rows, sums, strict=True):
            entry = _splat(builder, builder.load(_address(context, builder, a, row, loop.index)), vector)
            for row_of_b, total in zip(rows_of_b, row_sums, strict=True):
                builder.store(builder.call(fma, [entry, row_of_b, builder.load(total)]), total)
    scale = _splat(builder, context.cast(builder, args[5], signature.args[5], element), vector)
    addresses = [[_address(context, builder, c, row, j) for j in columns] for row in rows]
    updated = [[builder.call(fma, [scale, builder.load(total), _load(builder, address, vector, size)])
                for total, address in zip(row_sums, row_addresses, strict=True)]
               for row_sums, row_addresses in zip(sums, addresses, strict=True)]
    for row_values, row_addresses in zip(updated, addresses, strict=True):
        for value, address in zip(row_values, row_addresses, strict=True):
            builder.store(value, builder.bitcast(address, vector.as_pointer()), align=size)


def _address(context, builder, array_and_kind, row, column):
    """The address of array[row, column]."""
    array, kind = array_and_kind
    shape, strides = (cgutils.unpack_tuple(builder, values, 2) for values in (array.shape, array.strides))
    return cgutils.get_item_pointer2(context, builder, array.data, shape, strides, kind.layout, [row, column])


def _load(builder, address, vector, alignment: int):
    """The vector of consecutive numbers from ``address`` (aligned to one number's bytes)."""
    return builder.load(builder.bitcast(address, vector.as_pointer()), align=alignment)


def _splat(builder, value, vector):
    """A vector with ``value`` in every lane."""
    lane = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(lane, ir.Constant(vector, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count))


def _plus(builder, index, offset: int):
    return builder.add(index, ir.Constant(index.type, offset))
