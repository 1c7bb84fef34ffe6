"""Methods: how a step turns the sampled gradient and the step size αₖ into the next iterate.

Beside the sampler (which examples) and the step (how far), a method says what is done with the
gradient: plain SGD (the default), momentum (:mod:`.momentum`), variance reduction
(:mod:`.variance_reduced`). Each is a small frozen object (:class:`~sgdlab.methods.base.Method`)
compiled into the engine's loop.
"""

from sgdlab.methods.averaging import (
    EMA,
    Averaging,
    PolyakAverage,
    ScheduleFree,
    TailAverage,
    ema,
    polyak_average,
    schedule_free,
    tail_average,
)
from sgdlab.methods.base import Method, StepGradients, plain, read_method
from sgdlab.methods.momentum import HeavyBall, Nesterov, heavy_ball, nesterov
from sgdlab.methods.registry import AVERAGINGS, METHODS
from sgdlab.methods.variance_reduced import SAGA, SVRG, LooplessSVRG, loopless_svrg, saga, svrg

__all__ = ["AVERAGINGS", "EMA", "METHODS", "SAGA", "SVRG", "Averaging", "HeavyBall", "LooplessSVRG", "Method",
           "Nesterov", "PolyakAverage",
           "ScheduleFree", "StepGradients", "TailAverage", "ema", "heavy_ball", "loopless_svrg", "nesterov", "plain",
           "polyak_average", "read_method", "saga", "schedule_free", "svrg", "tail_average"]
