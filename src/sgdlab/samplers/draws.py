"""The samplers' random draws: permutations, indices with replacement, subsets without replacement.

Every draw is a pure function of its sizes and ``entropy``, the non-negative integers that fix it
(the run's seed and the epoch; the seed alone for shuffle once). They are mixed into one 64-bit
starting state; SplitMix64 (Steele, Lea and Flood, 2014; it passes BigCrush) then gives the random
words, and each uniform integer in {0, …, m−1} comes from Lemire's multiply-and-reject method
(2019), which is exactly uniform. On top of it:

* ``permutation``: Fisher–Yates, swapping position i with a uniform j ∈ {0, …, i} for i = N−1, …, 1,
  so every order has probability 1/N!; above a million elements, the Rao–Sandelius shuffle (uniform
  buckets, then Fisher–Yates within each), which has the same law and stays in cache;
* ``with_replacement``: independent uniform indices;
* ``by_weight``: independent indices with probabilities pᵢ ∝ wᵢ, by Walker's alias method (Vose's
  construction, ``alias_table``): a uniform column j, then j itself when a uniform u = k · 2⁻⁵³ (k a
  uniform 53-bit integer) is below its cut, else its alias; O(1) a draw;
* ``without_replacement``: per step, a uniform B-subset, the last B positions of a partial
  Fisher–Yates shuffle of a pool of {0, …, N−1}, whose swaps are then undone (O(B) a step).

Compiled by Numba they take a few ns an index, several times faster than NumPy's generator and far
faster than jax.random on the CPU (benchmarks/NOTES.md, "Random draws"). Both engines take their plans from these
functions (drawn on the host, passed to the compiled epoch as data), so their runs agree index for
index.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sgdlab._helpers import validation

#: SplitMix64's increment (2⁶⁴/φ) and its two finalizer multipliers.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
#: The largest N served: indices are int32.
MAX_N = 2**31 - 1
#: Above this N a permutation is drawn by the bucketed shuffle, whose buckets hold about BUCKET_ELEMENTS
#: elements (they fit in a core's cache, where Fisher–Yates over all N misses it at every swap).
BUCKETED_ABOVE = 2**20
BUCKET_ELEMENTS = 2**16


def permutation(n: int, *entropy: int) -> np.ndarray:
    """A uniform random permutation of {0, …, N−1} (int32), fixed by ``entropy``: Fisher–Yates, or above
    BUCKETED_ABOVE elements the bucketed shuffle (same law, fewer cache misses)."""
    n = _size("n", n)
    out = np.empty(n, dtype=np.int32)
    if n <= BUCKETED_ABOVE:
        _fisher_yates(out, _words(entropy))
    else:
        _bucketed_shuffle(out, bucket_bits(n), _words(entropy))
    return out


def permutations(n: int, entropies) -> np.ndarray:
    """One permutation of {0, …, N−1} a row of ``entropies`` (M × k non-negative integers): row r is
    ``permutation(n, *entropies[r])``, drawn in one compiled call (Fisher–Yates) up to BUCKETED_ABOVE elements."""
    n, words = _size("n", n), _rows_of_words(entropies)
    if n > BUCKETED_ABOVE:
        return np.stack([permutation(n, *map(int, row)) for row in words])
    out = np.empty((len(words), n), dtype=np.int32)
    _fisher_yates_rows(out, words)
    return out


def bucket_bits(n: int) -> int:
    """log₂ K for the bucketed shuffle of N: the fewest buckets (a power of two, at most 2¹⁶) of about
    BUCKET_ELEMENTS or fewer elements on average."""
    return min(16, max(1, math.ceil(math.log2(n / BUCKET_ELEMENTS))))


def with_replacement(n: int, shape: tuple[int, int], *entropy: int) -> np.ndarray:
    """An int32 array of ``shape`` whose entries are independent and uniform on {0, …, N−1}."""
    return with_replacement_rows(n, shape, [entropy])[0]


def with_replacement_rows(n: int, shape: tuple[int, int], entropies) -> np.ndarray:
    """M arrays of ``shape`` (M × shape), array r ``with_replacement(n, shape, *entropies[r])``, in one compiled
    call."""
    n, words = _size("n", n, low=1), _rows_of_words(entropies)
    out = np.empty((len(words), *shape), dtype=np.int32)
    _uniform_fill_rows(out.reshape(len(words), -1), n, words)
    return out


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of (pᵢ) (float64, summing to 1): cuts c and aliases a such that drawing a uniform
    column j and taking j with probability cⱼ, else aⱼ, gives i with probability
    (1/N)(cᵢ + Σ_{j: aⱼ = i} (1 − cⱼ)) = pᵢ (Vose 1991: columns below 1/N are filled from those above)."""
    cuts, aliases = np.empty(probabilities.size), np.empty(probabilities.size, dtype=np.int32)
    _vose(probabilities * probabilities.size, cuts, aliases)
    return cuts, aliases


def by_weight(cuts: np.ndarray, aliases: np.ndarray, scales: np.ndarray, shape: tuple[int, int],
              *entropy: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, their scales): an int32 array of ``shape`` whose entries are independent draws from the alias table
    (cuts, aliases), and beside each drawn i its ``scales[i]``."""
    out, weights = np.empty(shape, dtype=np.int32), np.empty(shape)
    _alias_fill(out.reshape(-1), weights.reshape(-1), cuts, aliases, scales, _words(entropy))
    return out, weights


def without_replacement(n: int, shape: tuple[int, int], *entropy: int) -> np.ndarray:
    """An int32 array of ``shape`` = (steps, B) whose rows are independent uniform B-subsets of {0, …, N−1}."""
    return without_replacement_rows(n, shape, [entropy])[0]


def without_replacement_rows(n: int, shape: tuple[int, int], entropies) -> np.ndarray:
    """M arrays of ``shape`` (M × steps × B), array r ``without_replacement(n, shape, *entropies[r])``, in one
    compiled call."""
    n, words = _size("n", n, low=1), _rows_of_words(entropies)
    validation.integer("batch_size", shape[1], high=n, context=f"without_replacement (N={n})")
    out = np.empty((len(words), *shape), dtype=np.int32)
    _subsets_fill_rows(out, n, words)
    return out


def _size(name: str, n: int, low: int = 0) -> int:
    return validation.integer(name, n, low=low, high=MAX_N)


def _words(entropy) -> np.ndarray:
    return np.array([validation.integer("entropy", value, low=0) for value in entropy], dtype=np.uint64)


def _rows_of_words(entropies) -> np.ndarray:
    """M × k entropy words from M rows of k non-negative integers (one draw a row)."""
    if isinstance(entropies, np.ndarray) and entropies.ndim == 2 and entropies.dtype.kind in "iu":
        if entropies.size and entropies.min() < 0:
            validation.fail("entropy", "non-negative integers", validation.shown(int(entropies.min())))
        return entropies.astype(np.uint64)
    return np.stack([_words(row) for row in entropies]) if len(entropies) else np.empty((0, 0), np.uint64)


@numba.njit(cache=True, inline="always")
def _mixed(z):
    """SplitMix64's finalizer: a bijection of 64-bit words that spreads every input bit."""
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _starting_state(words):
    """One 64-bit state from the entropy words: each is added to the running state, then mixed."""
    state = np.uint64(0x243F6A8885A308D3)   # the fractional digits of π, a fixed nonzero start
    for word in words:
        state = _mixed(state + GOLDEN + word)
    return state


@numba.njit(cache=True, inline="always")
def _below(state, bound):
    """(new state, a uniform integer in {0, …, bound−1}) by Lemire's method on 32-bit words (bound < 2³²)."""
    mask = np.uint64(0xFFFFFFFF)
    bound = np.uint64(bound)
    state += GOLDEN
    product = (_mixed(state) >> np.uint64(32)) * bound
    if (product & mask) < bound:   # reject the few low words that would bias the result
        threshold = (np.uint64(2**32) - bound) % bound
        while (product & mask) < threshold:
            state += GOLDEN
            product = (_mixed(state) >> np.uint64(32)) * bound
    return state, np.int64(product >> np.uint64(32))


@numba.njit(cache=True, nogil=True)
def _fisher_yates(out, words):
    """Fill ``out`` with 0, …, N−1, then swap out[i] with out[j], j uniform in {0, …, i}, for i = N−1, …, 1."""
    state = _starting_state(words)
    for i in range(out.size):
        out[i] = i
    for i in range(out.size - 1, 0, -1):
        state, j = _below(state, i + 1)
        out[i], out[j] = out[j], out[i]


@numba.njit(cache=True, nogil=True)
def _fisher_yates_rows(out, words):
    """Row r of ``out`` := the Fisher–Yates permutation of the entropy words ``words[r]``."""
    for r in range(out.shape[0]):
        _fisher_yates(out[r], words[r])


@numba.njit(cache=True, nogil=True)
def _bucketed_shuffle(out, bits, words):
    """The Rao–Sandelius shuffle with K = 2^bits buckets: each element i of 0, …, N−1 gets a bucket drawn
    uniformly (the top bits of a word), the buckets are laid out in order (a counting sort, stable), and
    each bucket is shuffled by Fisher–Yates in place. Every order π has probability 1/N!: for bucket
    sizes c₁ … c_K exactly one labelling puts π's elements in the positions π gives them, with
    probability K⁻ᴺ, and the shuffles then give π with probability Π 1/c_k!; summed over all sizes,
    K⁻ᴺ Σ Π 1/c_k! = K⁻ᴺ Kᴺ/N! (the multinomial theorem)."""
    state = _starting_state(words)
    n, buckets, shift = out.size, 1 << bits, np.uint64(64 - bits)
    labels = np.empty(n, dtype=np.uint16)
    ends = np.zeros(buckets + 1, dtype=np.int64)
    for i in range(n):
        state += GOLDEN
        labels[i] = _mixed(state) >> shift
        ends[labels[i] + 1] += 1
    for k in range(buckets):
        ends[k + 1] += ends[k]
    cursor = ends[:-1].copy()
    for i in range(n):
        out[cursor[labels[i]]] = i
        cursor[labels[i]] += 1
    for k in range(buckets):
        start = ends[k]
        for i in range(ends[k + 1] - start - 1, 0, -1):
            state, j = _below(state, i + 1)
            out[start + i], out[start + j] = out[start + j], out[start + i]


@numba.njit(cache=True, nogil=True)
def _uniform_fill(out, n, words):
    """Fill ``out`` with independent uniform integers in {0, …, N−1}."""
    state = _starting_state(words)
    for position in range(out.size):
        state, out[position] = _below(state, n)


@numba.njit(cache=True, nogil=True)
def _uniform_fill_rows(out, n, words):
    """Row r of ``out`` := independent uniform integers in {0, …, N−1} from the entropy words ``words[r]``."""
    for r in range(out.shape[0]):
        _uniform_fill(out[r], n, words[r])


@numba.njit(cache=True, nogil=True)
def _vose(scaled, cuts, aliases):
    """Fill the alias table of N pᵢ (``scaled``): columns of mass below 1 ("small", stack 0) take the rest of their
    column from a column of mass 1 or more ("large", stack 1), whose mass falls by as much; the columns left (mass 1
    up to rounding) keep their own index."""
    n = scaled.size
    stacks, sizes = np.empty((2, n), dtype=np.int64), np.zeros(2, dtype=np.int64)
    for i in range(n):
        _push(stacks, sizes, i, scaled[i] >= 1.0)
    while sizes[0] > 0 and sizes[1] > 0:
        sizes -= 1
        low, high = stacks[0, sizes[0]], stacks[1, sizes[1]]
        cuts[low], aliases[low] = scaled[low], high
        scaled[high] = (scaled[high] + scaled[low]) - 1.0
        _push(stacks, sizes, high, scaled[high] >= 1.0)
    for kind in range(2):
        for i in stacks[kind, :sizes[kind]]:
            cuts[i], aliases[i] = 1.0, i


@numba.njit(cache=True, inline="always")
def _push(stacks, sizes, i, large):
    """Put column i on the stack of large columns (``large``) or of small ones."""
    kind = 1 if large else 0
    stacks[kind, sizes[kind]] = i
    sizes[kind] += 1


@numba.njit(cache=True, nogil=True)
def _alias_fill(out, weights, cuts, aliases, scales, words):
    """Fill ``out`` with independent draws from the alias table (column j uniform by Lemire's method, then j if
    u < cⱼ, else aⱼ) and ``weights`` with the scales of the indices drawn."""
    state = _starting_state(words)
    n = cuts.size
    for position in range(out.size):
        state, column = _below(state, n)
        state += GOLDEN
        u = np.float64(_mixed(state) >> np.uint64(11)) * 2.0**-53
        out[position] = column if u < cuts[column] else aliases[column]
        weights[position] = scales[out[position]]


@numba.njit(cache=True, nogil=True)
def _subsets_fill(out, n, words):
    """Row t of ``out`` (steps × B) := the last B entries of a partial Fisher–Yates shuffle of the pool
    0, …, N−1; the swaps are undone in reverse, so every row starts from the same pool."""
    state = _starting_state(words)
    steps, b = out.shape
    pool = np.arange(n, dtype=np.int32)
    swapped = np.empty(b, dtype=np.int64)
    for t in range(steps):
        for slot in range(b):
            i = n - 1 - slot
            state, j = _below(state, i + 1)
            pool[i], pool[j] = pool[j], pool[i]
            swapped[slot] = j
            out[t, slot] = pool[i]
        for slot in range(b - 1, -1, -1):
            i, j = n - 1 - slot, swapped[slot]
            pool[i], pool[j] = pool[j], pool[i]


@numba.njit(cache=True, nogil=True)
def _subsets_fill_rows(out, n, words):
    """Array r of ``out`` (M × steps × B) := its uniform B-subsets from the entropy words ``words[r]``."""
    for r in range(out.shape[0]):
        _subsets_fill(out[r], n, words[r])
