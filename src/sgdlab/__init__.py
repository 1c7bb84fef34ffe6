"""sgdlab: the theory of (stochastic) gradient descent, made executable and fast, on JAX.

Importing sgdlab turns on JAX's 64-bit mode (``jax_enable_x64``) so that float64 data give a
float64 run, as the theory's checks need; float32 data still run in float32. JAX itself, and
every part of sgdlab, is imported on first use, so ``import sgdlab`` (and ``sgdlab --help``) stay
fast: the 64-bit switch is set through JAX_ENABLE_X64 before JAX loads, or directly when the
program imported JAX first.
"""

import importlib
import os
import sys

if "jax" in sys.modules:
    sys.modules["jax"].config.update("jax_enable_x64", True)
else:
    os.environ["JAX_ENABLE_X64"] = "true"

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(["Problem", "FiniteSum", "finite_sum", "least_squares", "logistic_regression",
                     "softmax_regression", "curve_fit", "polynomial", "fourier", "gaussian_rbf", "mlp",
                     "Expectation", "expectation"],
                    "sgdlab.problems"),
    **dict.fromkeys(["full_batch", "with_replacement", "without_replacement", "cyclic", "shuffled_cyclic",
                     "shuffle_once", "iid"], "sgdlab.samplers"),
    **dict.fromkeys(["constant", "inverse_time", "inverse_sqrt", "step_decay", "cosine"], "sgdlab.schedules"),
    **dict.fromkeys(["box", "nonnegative", "ball", "simplex", "affine", "general_constraints"], "sgdlab.constraints"),
    **dict.fromkeys(["minimize", "maximize", "Result", "StepSizeWarning"], "sgdlab.optimize"),
    "check_step": "sgdlab.theory",
    "compare": "sgdlab.experiment",
    "Comparison": "sgdlab.experiment",
}
_SUBMODULES = {"problems", "samplers", "schedules", "constraints", "engine", "optimize", "theory", "experiment",
               "data", "report", "plots", "config"}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"sgdlab.{name}")
    raise AttributeError(f"module 'sgdlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
