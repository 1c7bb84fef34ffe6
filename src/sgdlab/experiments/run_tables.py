"""The runs of ``sgdlab compare``: the main job's schemes, and every scheme × batch size × method of its options,
each with its default step, written as an experiment file's [runs] tables (:mod:`sgdlab.experiments.config`)."""

from __future__ import annotations

import math
from typing import Any

from sgdlab._helpers import validation
from sgdlab._helpers.declared import declared
from sgdlab.experiments import entries
from sgdlab.methods import AVERAGINGS, METHODS
from sgdlab.samplers import SAMPLERS

#: The main job's steps: gradient descent's 1/L (inside its α < 2/L), and for the stochastic schemes
#: 0.5/L_B, the largest step of SGD's theorem (α ≤ 1/(2 L_B), Gower et al. 2019), so every run with a
#: theorem has its bound drawn, and each scheme's at B = 1 takes the same step (L_1 = L_max).
DEFAULT_STEPS = {"full_batch": "1/L", "stochastic": "0.5/L_B"}


def method_help() -> str:
    """How --methods and a run's method and average are written, from the registries."""
    return (f"{entries.usage(METHODS)}, and averaged iterates {entries.usage(AVERAGINGS)}, alone (plain SGD) or "
            "after a method with '+', e.g. 'heavy_ball:0.9+ema:0.99'; NAME:key=value sets any parameter")


def finite_sum_samplers() -> list[str]:
    """The registered samplers that serve a finite sum (every one but an expectation's), by name."""
    return [name for name in SAMPLERS if SAMPLERS[name]().serves_finite_sums]


def default_runs(batch_size: int = 32) -> dict:
    """The main job's schemes: GD, SGD with replacement (B = 1 and B), minibatch without replacement
    (B), cyclic (1), shuffled cyclic (1 and B) and shuffle once (B), with the steps of DEFAULT_STEPS."""
    plan = [("full_batch", None), ("with_replacement", 1), ("with_replacement", batch_size),
            ("without_replacement", batch_size), ("cyclic", 1), ("shuffled_cyclic", 1),
            ("shuffled_cyclic", batch_size), ("shuffle_once", batch_size)]
    return {run_name(sampler, size): _default_run(sampler, {"batch_size": size} if size else {})
            for sampler, size in plan}


def product_runs(schemes: list[str], batch_sizes: list[int], methods: list[str] | None = None) -> dict:
    """Every scheme (text ``NAME[:key=value…]``) with every batch size (a scheme without a batch size once) and
    every method (plain by default), with the steps of DEFAULT_STEPS (a method's own default: :func:`method_step`;
    a method that needs per-example gradients not with gradient descent); a run of another method than plain
    has it in its name."""
    runs = {}
    for scheme in schemes:
        sampler, settings = entries.read_text(scheme, SAMPLERS, "--schemes")
        sized = "batch_size" in SAMPLERS.parameters(sampler) and "batch_size" not in settings
        for size in batch_sizes if sized else [settings.get("batch_size")]:
            plain = _default_run(sampler, {**settings, **({"batch_size": size} if sized else {})})
            for text in methods or ["plain"]:
                method_text, average = split_method(text)
                method = entries.build(method_text, METHODS, "--methods")
                if plain["step"] == DEFAULT_STEPS["full_batch"] and method.needs_finite_sum:
                    continue   # a variance-reduced gradient descent is gradient descent
                run = dict(plain)
                if text != "plain":
                    run.update(method=method_text, step=method_step(method, run["step"]))
                if average is not None:
                    run["average"] = average
                runs[run_name(scheme, size) + ("" if text == "plain" else f" {text}")] = run
    return runs


def method_step(method: Any, plain_step: str) -> str:
    """A method's default step: inside the step limit of the theorem its class declares (its ``default`` α·L_max
    for a variance-reduced method, else the limit rounded down to two digits); else its ``step_scale()`` times the
    plain step (1 − β for momentum β, so that the step it takes in the long run, α/(1 − β), is the plain one's)."""
    for theorem in declared(method, "theorems", ()):
        if theorem.limit is not None and theorem.constant == "L_max":
            ratio = theorem.default if theorem.default is not None else math.floor(theorem.limit * 100) / 100
            return f"{ratio:g}/L_max"
    constant, _, denominator = plain_step.partition("/")
    return f"{float(constant) * method.step_scale():g}/{denominator}"


def split_method(text: str, where: str = "--methods") -> tuple[str, str | None]:
    """(method text, averaging text or None) of a --methods entry such as 'svrg', 'ema:0.99' or
    'heavy_ball:0.9+polyak_average', each part checked."""
    parts = [part.strip() for part in text.split("+")]
    if len(parts) == 1 and parts[0].partition(":")[0] in AVERAGINGS:
        parts = ["plain", *parts]
    if len(parts) > 2 or parts[0].partition(":")[0] not in METHODS or (
            len(parts) == 2 and parts[1].partition(":")[0] not in AVERAGINGS):
        validation.fail(where, method_help(), validation.shown(text))
    entries.build(parts[0], METHODS, where)
    if len(parts) == 2:
        entries.build(parts[1], AVERAGINGS, where)
    return parts[0], parts[1] if len(parts) == 2 else None


def _default_run(sampler: str, settings: dict) -> dict:
    """A run's settings: its sampler, the sampler's parameters and the default step of its kind."""
    full_batch = SAMPLERS.build(sampler, settings, "--schemes").is_full_batch
    return {"sampler": sampler, **settings, "step": DEFAULT_STEPS["full_batch" if full_batch else "stochastic"]}


def run_name(sampler: str, batch_size: int | None) -> str:
    """'GD' for full_batch, else e.g. 'shuffled_cyclic B=32' (or the sampler's text alone without a batch size)."""
    if sampler == "full_batch":
        return "GD"
    return sampler if batch_size is None else f"{sampler} B={batch_size}"
