"""Samplers: which indices each step uses (:mod:`~sgdlab.samplers.schemes`), drawn by the exactly
uniform, compiled random draws of :mod:`~sgdlab.samplers.draws`."""

from collections.abc import Callable

from sgdlab.samplers.grab import GraB, GrabState, grab
from sgdlab.samplers.schemes import (
    IID,
    Cyclic,
    ExampleWeights,
    FlipFlop,
    FullBatch,
    Importance,
    ImportanceShuffled,
    RunOrdered,
    Sampler,
    ShuffledChunks,
    ShuffledCyclic,
    ShuffleOnce,
    WithoutReplacement,
    WithReplacement,
    cyclic,
    flip_flop,
    full_batch,
    iid,
    importance,
    importance_shuffled,
    shuffle_once,
    shuffled_chunks,
    shuffled_cyclic,
    with_replacement,
    without_replacement,
)

#: The public constructors by name, for messages and for configuration files.
SAMPLERS: dict[str, Callable[..., Sampler]] = {
    "full_batch": full_batch,
    "with_replacement": with_replacement,
    "without_replacement": without_replacement,
    "importance": importance,
    "importance_shuffled": importance_shuffled,
    "cyclic": cyclic,
    "shuffled_cyclic": shuffled_cyclic,
    "shuffle_once": shuffle_once,
    "flip_flop": flip_flop,
    "shuffled_chunks": shuffled_chunks,
    "grab": grab,
    "iid": iid,
}

__all__ = ["IID", "SAMPLERS", "Cyclic", "ExampleWeights", "FlipFlop", "FullBatch", "GraB", "GrabState", "Importance",
           "ImportanceShuffled", "RunOrdered", "Sampler", "ShuffleOnce", "ShuffledChunks", "ShuffledCyclic",
           "WithReplacement", "WithoutReplacement", "cyclic", "flip_flop", "full_batch", "grab", "iid", "importance",
           "importance_shuffled", "shuffle_once", "shuffled_chunks", "shuffled_cyclic", "with_replacement",
           "without_replacement"]
