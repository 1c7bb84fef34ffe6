"""sgdlab: the theory of (stochastic) gradient descent, made executable and fast, on JAX.

Importing sgdlab turns on JAX's 64-bit mode (``jax_enable_x64``) so that float64 data give a
float64 run, as the theory's checks need; float32 data still run in float32. It also turns on
JAX's persistent compilation cache, in ``$XDG_CACHE_HOME/sgdlab/jax`` (``~/.cache/sgdlab/jax``),
unless the program set a cache directory itself or SGDLAB_JAX_CACHE=0: a program compiled once is
loaded from disk by later processes (programs that took at least 0.1 s to compile; at most 1 GiB,
least recently used first out). JAX itself, and every part of sgdlab, is imported on first use,
so ``import sgdlab`` (and ``sgdlab --help``) stay fast: the switches are set through JAX's
environment variables before JAX loads, or directly when the program imported JAX first.
"""

import importlib
import os
import sys

#: The persistent cache's options: keep programs that took at least 0.1 s to compile, up to 1 GiB (JAX bounds
#: the size with the filelock package, a dependency of sgdlab for that reason).
_CACHE_OPTIONS = (("jax_persistent_cache_min_compile_time_secs", 0.1), ("jax_compilation_cache_max_size", 2**30))


def _cache_directory() -> str | None:
    """Where JAX's compiled programs are kept, or None when SGDLAB_JAX_CACHE=0."""
    if os.environ.get("SGDLAB_JAX_CACHE", "1") == "0":
        return None
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "sgdlab", "jax")


def _configure_jax() -> None:
    """64-bit mode, and the persistent cache unless the program or its environment chose a directory:
    through environment variables before JAX loads, or its config when JAX is already imported."""
    cache, jax = _cache_directory(), sys.modules.get("jax")
    if jax is None:
        os.environ["JAX_ENABLE_X64"] = "true"
        if cache is not None and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
            os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
            for option, value in _CACHE_OPTIONS:
                os.environ.setdefault(option.upper(), str(value))
        return
    jax.config.update("jax_enable_x64", True)
    if cache is not None and jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", cache)
        for option, value in _CACHE_OPTIONS:
            jax.config.update(option, value)


_configure_jax()

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(["Problem", "FiniteSum", "finite_sum", "least_squares", "logistic_regression",
                     "softmax_regression", "curve_fit", "polynomial", "fourier", "gaussian_rbf", "mlp",
                     "robust_regression", "Expectation", "expectation"],
                    "sgdlab.problems"),
    **dict.fromkeys(["full_batch", "with_replacement", "without_replacement", "importance", "importance_shuffled",
                     "cyclic", "shuffled_cyclic", "shuffle_once", "flip_flop", "shuffled_chunks", "grab", "iid"],
                    "sgdlab.samplers"),
    **dict.fromkeys(["constant", "inverse_time", "inverse_sqrt", "step_decay", "cosine", "polyak",
                     "stochastic_polyak"], "sgdlab.schedules"),
    **dict.fromkeys(["plain", "heavy_ball", "nesterov", "svrg", "loopless_svrg", "saga", "polyak_average",
                     "tail_average", "ema", "schedule_free"], "sgdlab.methods"),
    **dict.fromkeys(["box", "nonnegative", "ball", "simplex", "affine", "general_constraints"], "sgdlab.constraints"),
    **dict.fromkeys(["minimize", "maximize", "Result", "StepSizeWarning"], "sgdlab.run.api"),
    "patience": "sgdlab.run.stopping",
    "check_step": "sgdlab.theory",
    "parquet_columns": "sgdlab.data",
    "probe_batch_sizes": "sgdlab.theory",
    "compare": "sgdlab.experiments.compare",
    "Comparison": "sgdlab.experiments.compare",
    "step_sweep": "sgdlab.experiments.step_sweep",
    "StepSweep": "sgdlab.experiments.step_sweep",
    "study": "sgdlab.experiments.study",
    "Study": "sgdlab.experiments.study",
}
#: Public submodule -> where it lives (``sl.distributed`` is the engine's data-parallel module).
_SUBMODULES = {name: f"sgdlab.{name}" for name in ("problems", "samplers", "schedules", "constraints", "theory",
                                                    "data", "engines", "run", "experiments")}
_SUBMODULES["distributed"] = "sgdlab.engines.distributed"
_SUBMODULES["torch"] = "sgdlab.torch"   # imports PyTorch (the extra sgdlab[torch]) on first use

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'sgdlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
