"""Samplers: which indices each step uses (:mod:`~sgdlab.samplers.base` and the schemes of
:mod:`~sgdlab.samplers.drawn`, :mod:`~sgdlab.samplers.weighted`, :mod:`~sgdlab.samplers.orders`,
:mod:`~sgdlab.samplers.grab`), drawn by the exactly uniform, compiled random draws of :mod:`~sgdlab.samplers.draws`.
Every factory is registered in :data:`SAMPLERS` where it is defined."""

from sgdlab.samplers.base import IID, FullBatch, Minibatch, Sampler, full_batch, iid, stacked
from sgdlab.samplers.drawn import WithoutReplacement, WithReplacement, with_replacement, without_replacement
from sgdlab.samplers.grab import GraB, GrabState, grab
from sgdlab.samplers.orders import (
    Blocks,
    Cyclic,
    FlipFlop,
    RunOrdered,
    ShuffledChunks,
    ShuffledCyclic,
    ShuffleOnce,
    cyclic,
    flip_flop,
    shuffle_once,
    shuffled_chunks,
    shuffled_cyclic,
)
from sgdlab.samplers.registry import SAMPLERS
from sgdlab.samplers.weighted import ExampleWeights, Importance, ImportanceShuffled, importance, importance_shuffled

__all__ = ["IID", "SAMPLERS", "Blocks", "Cyclic", "ExampleWeights", "FlipFlop", "FullBatch", "GraB", "GrabState",
           "Importance", "ImportanceShuffled", "Minibatch", "RunOrdered", "Sampler", "ShuffleOnce", "ShuffledChunks",
           "ShuffledCyclic", "WithReplacement", "WithoutReplacement", "cyclic", "flip_flop", "full_batch", "grab",
           "iid", "importance", "importance_shuffled", "shuffle_once", "shuffled_chunks", "shuffled_cyclic", "stacked",
           "with_replacement", "without_replacement"]
