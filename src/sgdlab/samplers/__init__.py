"""Samplers: which indices each step uses (:mod:`~sgdlab.samplers.schemes`), drawn by the exactly
uniform, compiled random draws of :mod:`~sgdlab.samplers.draws`."""

from sgdlab.samplers.schemes import (
    IID,
    SAMPLERS,
    Cyclic,
    ExampleWeights,
    FlipFlop,
    FullBatch,
    Importance,
    ImportanceShuffled,
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

__all__ = ["IID", "SAMPLERS", "Cyclic", "ExampleWeights", "FlipFlop", "FullBatch", "Importance",
           "ImportanceShuffled", "Sampler", "ShuffleOnce", "ShuffledChunks", "ShuffledCyclic", "WithReplacement",
           "WithoutReplacement", "cyclic", "flip_flop", "full_batch", "iid", "importance", "importance_shuffled",
           "shuffle_once", "shuffled_chunks", "shuffled_cyclic", "with_replacement", "without_replacement"]
