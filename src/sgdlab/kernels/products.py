"""Small dense matrix products for the native network step: C ← C + c · A Bᵀ, blocked in registers.

Both factors are read along their rows (A is m × k, B is n × k, each entry of C is a dot product of
two contiguous rows), so the compiler vectorizes the sum over k. Sixteen entries of C (a 4 × 4
block) are summed at once: each loaded entry of A serves four products and each of B four, where a
dot product at a time loads two numbers for one multiply-add. On the network's products (m, n, k
among 32, 64, 128, float64) the 4 × 4 blocks ran at 57–76 GFLOP/s on one core, 2 × 2 blocks at
44–46, NumPy's BLAS (np.dot, 32 × 64 × 64) at 45–49 with its call overhead, and the one-entry
loop at 33. The edges of C that do not fill a block are summed one row of 4 or one entry at a time.
The other form, C + c · A B, adds multiples of B's rows to C's rows, vectorized along them: it
serves where the sum is short (over the K outputs of a network, or a batch of a few examples), where
A Bᵀ would sum a handful of numbers per dot product. On short rows (C's rows the 32 examples of a
batch) its loop overheads made it 3× slower than A Bᵀ (20,000 multiply-adds in 2.7 µs), so the
network lays its factors out for long rows, transposing small ones (:func:`transpose_into`).
"""

from __future__ import annotations

import numba

from sgdlab.kernels.linear_sgd import REORDER

#: Rows and columns of C summed together.
BLOCK = 4


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def add_product_transposed(A, B, C, factor):
    """C[i, j] += factor · Σₖ A[i, k] B[j, k] for every i < m, j < n (A: m × k, B: n × k, C: m × n)."""
    m, n = C.shape
    full_m, full_n = m - m % BLOCK, n - n % BLOCK
    for i in range(0, full_m, BLOCK):
        for j in range(0, full_n, BLOCK):
            _add_block(A, B, C, factor, i, j)
        for j in range(full_n, n):
            for r in range(i, i + BLOCK):
                C[r, j] += factor * _dot(A, r, B, j)
    for i in range(full_m, m):
        for j in range(0, full_n, BLOCK):
            _add_row_of_block(A, B, C, factor, i, j)
        for j in range(full_n, n):
            C[i, j] += factor * _dot(A, i, B, j)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _dot(A, i, B, j):
    """Σₖ A[i, k] B[j, k]."""
    total = 0.0
    for k in range(A.shape[1]):
        total += A[i, k] * B[j, k]
    return total


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _add_block(A, B, C, factor, i, j):
    """The 4 × 4 block of C at (i, j): sixteen running sums over k, each A and B entry loaded once."""
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = 0.0
    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = 0.0
    for k in range(A.shape[1]):
        a0, a1, a2, a3 = A[i, k], A[i + 1, k], A[i + 2, k], A[i + 3, k]
        b0, b1, b2, b3 = B[j, k], B[j + 1, k], B[j + 2, k], B[j + 3, k]
        s00 += a0 * b0
        s01 += a0 * b1
        s02 += a0 * b2
        s03 += a0 * b3
        s10 += a1 * b0
        s11 += a1 * b1
        s12 += a1 * b2
        s13 += a1 * b3
        s20 += a2 * b0
        s21 += a2 * b1
        s22 += a2 * b2
        s23 += a2 * b3
        s30 += a3 * b0
        s31 += a3 * b1
        s32 += a3 * b2
        s33 += a3 * b3
    _add_row(C, i, j, factor, s00, s01, s02, s03)
    _add_row(C, i + 1, j, factor, s10, s11, s12, s13)
    _add_row(C, i + 2, j, factor, s20, s21, s22, s23)
    _add_row(C, i + 3, j, factor, s30, s31, s32, s33)


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def _add_row_of_block(A, B, C, factor, i, j):
    """C[i, j:j+4]: four running sums over k (a row of A past the last full block)."""
    s0 = s1 = s2 = s3 = 0.0
    for k in range(A.shape[1]):
        a = A[i, k]
        s0 += a * B[j, k]
        s1 += a * B[j + 1, k]
        s2 += a * B[j + 2, k]
        s3 += a * B[j + 3, k]
    _add_row(C, i, j, factor, s0, s1, s2, s3)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _add_row(C, i, j, factor, s0, s1, s2, s3):
    C[i, j] += factor * s0
    C[i, j + 1] += factor * s1
    C[i, j + 2] += factor * s2
    C[i, j + 3] += factor * s3


@numba.njit(cache=True, nogil=True, error_model="numpy")
def transpose_into(A, out):
    """out[j, i] = A[i, j]: written along out's rows (0.29 µs for 64 × 32 here; along A's rows, 0.61)."""
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = A[i, j]


@numba.njit(cache=True, fastmath=REORDER, nogil=True, error_model="numpy")
def add_product(A, B, C, factor):
    """C[i, j] += factor · Σₖ A[i, k] B[k, j] (A: m × k, B: k × n, C: m × n): multiples of B's rows
    added to C's rows, k by k (each of B's rows loaded once from memory)."""
    for k in range(A.shape[1]):
        for i in range(C.shape[0]):
            coefficient = factor * A[i, k]
            for j in range(C.shape[1]):
                C[i, j] += coefficient * B[k, j]
