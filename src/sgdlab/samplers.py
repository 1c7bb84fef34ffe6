"""Which indices each step uses: one small class per sampling scheme.

A sampler turns (N, seed, epoch) into the epoch's *plan*: S index batches, where an epoch is N
per-example gradients — one full-batch step, or ⌈N/B⌉ steps of batch size B. Step k of the epoch
uses the stochastic gradient gᵏ = (1/|Iₖ|) Σ_{i ∈ Iₖ} ∇fᵢ(θᵏ).

| scheme | Iₖ | per-epoch steps |
| --- | --- | --- |
| ``full_batch()`` | {0, …, N−1} (gradient descent) | 1 |
| ``with_replacement(B)`` | B iid uniform draws (repeats possible) | ⌈N/B⌉ |
| ``without_replacement(B)`` | a fresh uniform B-subset every step | ⌈N/B⌉ |
| ``cyclic(B)`` | consecutive blocks of 0, 1, …, N−1 | ⌈N/B⌉ |
| ``shuffled_cyclic(B)`` | blocks of a new random permutation each epoch | ⌈N/B⌉ |
| ``shuffle_once(B)`` | blocks of one permutation drawn once, reused every epoch | ⌈N/B⌉ |
| ``iid(B)`` | for an expectation: B fresh draws of ω (no data, no epoch) | — |

When B does not divide N, the last block of the three cyclic schemes holds the N mod B examples
left and is averaged over its own size (``drop_last=True`` drops it, giving ⌊N/B⌋ steps).

Randomness is explicit: epoch e of a run with seed s uses the key fold_in(key(s), e), so any
epoch's plan can be recomputed alone, on any backend. The shuffling schemes draw their permutation
with NumPy's PCG64 seeded by (s, e) (by s alone for shuffle once), called from inside the compiled
epoch: on the CPU that is about 30× faster than jax.random.permutation (2.8 ms against 88 ms for
N = 200,000) and it is just as reproducible. ``plan`` is a JAX function (the compiled engine
calls it inside the epoch); ``batches`` shows the same plan as a list of NumPy arrays.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from sgdlab import _checks


def run_key(seed) -> jax.Array:
    """The key of a run: key(seed)."""
    return jax.random.key(seed)


def epoch_key(seed, epoch) -> jax.Array:
    """The key of one epoch of a run: fold_in(key(seed), epoch)."""
    return jax.random.fold_in(run_key(seed), epoch)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """Base of all samplers. A plan is (indices, mask), both of shape (steps, padded batch size)."""

    name = "sampler"

    def steps_per_epoch(self, n: int) -> int:
        """How many steps make one epoch of N per-example gradients."""
        raise NotImplementedError

    def plan(self, n: int, seed, epoch) -> tuple[jax.Array, jax.Array]:
        """The epoch's indices and mask (True on real entries), as JAX arrays; traceable in seed and epoch."""
        raise NotImplementedError

    def validate(self, n: int) -> None:
        """Raise a ValueError when this sampler cannot serve a problem with N = n terms."""

    def batches(self, n: int, epoch: int = 0, seed: int = 0) -> list[np.ndarray]:
        """The plan of one epoch as a list of index arrays, one per step (inspectable, replayable)."""
        n = _checks.integer("n", n)
        epoch = _checks.integer("epoch", epoch, low=0)
        seed = _checks.integer("seed", seed, low=0)
        self.validate(n)
        indices, mask = (np.asarray(a) for a in compiled_plan(self, n, seed, epoch))
        return [row[keep] for row, keep in zip(indices, mask, strict=True)]

    @property
    def is_full_batch(self) -> bool:
        """True for gradient descent, whose every step uses all N terms."""
        return False

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.name}({fields})"


@functools.partial(jax.jit, static_argnums=(0, 1))
def compiled_plan(sampler: Sampler, n: int, seed, epoch):
    """``sampler.plan`` compiled once per (sampler, N), for inspecting plans quickly."""
    return sampler.plan(n, seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class FullBatch(Sampler):
    """Gradient descent: every step uses all N terms, so one step is one epoch."""

    name = "full_batch"

    def steps_per_epoch(self, n: int) -> int:
        return 1

    def plan(self, n, seed, epoch):
        return jnp.arange(n, dtype=jnp.int32)[None, :], jnp.ones((1, n), dtype=bool)

    @property
    def is_full_batch(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True, repr=False)
class _Minibatch(Sampler):
    """A sampler with a batch size B ≥ 1 and ⌈N/B⌉ steps per epoch."""

    batch_size: int = 1

    def __post_init__(self):
        object.__setattr__(self, "batch_size", _checks.integer("batch_size", self.batch_size, context=self.name))

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil(n / self.batch_size)


@dataclasses.dataclass(frozen=True, repr=False)
class WithReplacement(_Minibatch):
    """Each step draws B indices iid uniform on {0, …, N−1}; repeats count each time."""

    name = "with_replacement"

    def plan(self, n, seed, epoch):
        shape = (self.steps_per_epoch(n), self.batch_size)
        indices = jax.random.randint(epoch_key(seed, epoch), shape, 0, n, dtype=jnp.int32)
        return indices, jnp.ones(shape, dtype=bool)


@dataclasses.dataclass(frozen=True, repr=False)
class WithoutReplacement(_Minibatch):
    """Each step draws a fresh uniform B-subset of {0, …, N−1}: no repeat inside a batch.

    Subsets come from Floyd's algorithm (O(B²) a step) when B² ≤ N, else from the first B entries
    of a random permutation (O(N) a step); both give every B-subset probability 1/C(N, B).
    """

    name = "without_replacement"

    def validate(self, n: int) -> None:
        _checks.integer("batch_size", self.batch_size, high=n, context=f"{self.name} (N={n})")

    def plan(self, n, seed, epoch):
        steps, b = self.steps_per_epoch(n), self.batch_size
        keys = jax.random.split(epoch_key(seed, epoch), steps)
        draw = _floyd_subset if b * b <= n else _permutation_prefix
        indices = jax.vmap(lambda key: draw(key, n, b))(keys)
        return indices, jnp.ones((steps, b), dtype=bool)


def _floyd_subset(key, n: int, b: int) -> jax.Array:
    """Floyd's algorithm: for j = N−B, …, N−1 draw t uniform on {0..j}; take t, or j if t is taken."""

    def take_one(t, chosen):
        j = n - b + t
        r = jax.random.randint(jax.random.fold_in(key, t), (), 0, j + 1, dtype=jnp.int32)
        return chosen.at[t].set(jnp.where(jnp.any(chosen == r), j, r))

    return jax.lax.fori_loop(0, b, take_one, jnp.full((b,), -1, dtype=jnp.int32))


def _permutation_prefix(key, n: int, b: int) -> jax.Array:
    """The first B entries of a uniform random permutation of {0, …, N−1}."""
    return jax.random.permutation(key, n)[:b].astype(jnp.int32)


@dataclasses.dataclass(frozen=True, repr=False)
class _Blocks(_Minibatch):
    """Schemes that cut an ordering of {0, …, N−1} into consecutive blocks of B."""

    drop_last: bool = False

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.drop_last, bool):
            _checks.fail("drop_last", "True or False", _checks.shown(self.drop_last), error=TypeError, context=self.name)

    def steps_per_epoch(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def validate(self, n: int) -> None:
        if self.drop_last:
            _checks.integer("batch_size", self.batch_size, high=n,
                            context=f"{self.name} with drop_last=True (N={n})")

    def order(self, n: int, seed, epoch) -> jax.Array:
        """The epoch's ordering of {0, …, N−1}."""
        raise NotImplementedError

    def plan(self, n, seed, epoch):
        steps, b = self.steps_per_epoch(n), self.batch_size
        order = self.order(n, seed, epoch).astype(jnp.int32)
        padded = jnp.zeros(max(steps * b, n), dtype=jnp.int32).at[:n].set(order)[: steps * b]
        mask = jnp.arange(steps * b) < n
        return padded.reshape(steps, b), mask.reshape(steps, b)


@dataclasses.dataclass(frozen=True, repr=False)
class Cyclic(_Blocks):
    """Blocks of 0, 1, …, N−1 in order, the same every epoch (deterministic)."""

    name = "cyclic"

    def order(self, n, seed, epoch):
        return jnp.arange(n)


def host_permutation(n: int, *entropy) -> jax.Array:
    """A uniform random permutation of {0, …, N−1} from NumPy's PCG64 seeded with the integers in
    ``entropy``, drawn on the host from inside a compiled program (one call per epoch)."""

    def draw(*values):
        return np.random.default_rng([int(v) for v in values]).permutation(n).astype(np.int32)

    return jax.pure_callback(draw, jax.ShapeDtypeStruct((n,), jnp.int32), *entropy, vmap_method="sequential")


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffledCyclic(_Blocks):
    """Blocks of a fresh uniform permutation each epoch (random reshuffling; deep learning's default)."""

    name = "shuffled_cyclic"

    def order(self, n, seed, epoch):
        return host_permutation(n, seed, epoch)


@dataclasses.dataclass(frozen=True, repr=False)
class ShuffleOnce(_Blocks):
    """Blocks of one uniform permutation, drawn from the seed alone and reused every epoch."""

    name = "shuffle_once"

    def order(self, n, seed, epoch):
        return host_permutation(n, seed)


@dataclasses.dataclass(frozen=True, repr=False)
class IID(_Minibatch):
    """For an expectation: B fresh, independent draws of ω at every step (no index plan)."""

    name = "iid"

    def validate(self, n) -> None:
        if n is not None:
            _checks.fail("sampler", "a finite-sum sampler such as with_replacement(B) for a problem with N terms",
                         f"iid(batch_size={self.batch_size})")


def full_batch() -> FullBatch:
    """Gradient descent: gᵏ = ∇F(θᵏ), one step per epoch."""
    return FullBatch()


def with_replacement(batch_size: int = 1) -> WithReplacement:
    """SGD with B iid uniform indices per step (B = 1 is the textbook SGD)."""
    return WithReplacement(batch_size)


def without_replacement(batch_size: int = 1) -> WithoutReplacement:
    """Minibatch SGD with a fresh uniform B-subset per step."""
    return WithoutReplacement(batch_size)


def cyclic(batch_size: int = 1, drop_last: bool = False) -> Cyclic:
    """Incremental gradient: consecutive blocks of 0, …, N−1, in order."""
    return Cyclic(batch_size, drop_last)


def shuffled_cyclic(batch_size: int = 1, drop_last: bool = False) -> ShuffledCyclic:
    """Random reshuffling: a new permutation each epoch, cut into blocks of B."""
    return ShuffledCyclic(batch_size, drop_last)


def iid(batch_size: int = 1) -> IID:
    """For an expectation E_ω[f]: B fresh iid draws of ω per step."""
    return IID(batch_size)


def shuffle_once(batch_size: int = 1, drop_last: bool = False) -> ShuffleOnce:
    """One permutation for the whole run, cut into blocks of B."""
    return ShuffleOnce(batch_size, drop_last)


#: The public constructors by name, for messages and for configuration files.
SAMPLERS = {
    "full_batch": full_batch,
    "with_replacement": with_replacement,
    "without_replacement": without_replacement,
    "cyclic": cyclic,
    "shuffled_cyclic": shuffled_cyclic,
    "shuffle_once": shuffle_once,
    "iid": iid,
}
