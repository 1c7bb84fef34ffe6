"""eˣ as plain arithmetic, so that a loop of exponentials vectorizes (the softmax of a batch).

A call of the C library's ``exp`` is opaque to the compiler: a loop over a batch's logits makes one
call per number. Here eˣ = 2ⁿ · eʳ with n = round(x / ln 2) and r = x − n ln 2 (ln 2 split in a
high and a low part, so r is exact to rounding), |r| ≤ ln(2)/2, and eʳ by its Taylor polynomial of
degree 13 (the remainder r¹⁴/14! < 4·10⁻¹⁸ relative), in Horner's form. 2ⁿ is built from its
exponent bits in two halves, so results down to the smallest subnormal come out right (within a few
10⁻¹⁶ of NumPy's exp, tested). NaN gives NaN; x < −745.2 gives 0.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sgdlab.engines.native._llvm.flags import REORDER

LOG2_E = 1.4426950408889634
#: ln 2 = LN2_HIGH + LN2_LOW, LN2_HIGH with trailing zero bits so n · LN2_HIGH is exact.
LN2_HIGH = 0.6931471803691238
LN2_LOW = 1.9082149292705877e-10
#: Below this every result underflows to 0 (and n stays in range).
LOWEST = -746.0
#: 1/k! for k = 2, …, 13.
_C = tuple(1.0 / math.factorial(k) for k in range(14))
C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = _C[2:]
#: IEEE double: the exponent field starts at bit 52, biased by 1023.
_MANTISSA_BITS, _BIAS = 52, 1023


@numba.njit(cache=True, fastmath=REORDER, inline="always", error_model="numpy")
def exp(x):
    """eˣ for x ≤ 709 (to a unit in the last place)."""
    x = max(x, LOWEST)
    n = np.floor(x * LOG2_E + 0.5)
    r = (x - n * LN2_HIGH) - n * LN2_LOW
    e_r = 1.0 + r * (1.0 + r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * (
        C7 + r * (C8 + r * (C9 + r * (C10 + r * (C11 + r * (C12 + r * C13))))))))))))
    whole = np.int64(n)
    half = whole >> 1
    return e_r * _power_of_two(half) * _power_of_two(whole - half)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _power_of_two(n):
    """2ⁿ for −1022 ≤ n ≤ 1023, from its exponent bits."""
    return np.int64((n + _BIAS) << _MANTISSA_BITS).view(np.float64)
