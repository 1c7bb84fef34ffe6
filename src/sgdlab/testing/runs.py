"""What the checks share: a small problem to run on, runs on both engines, the native engine's refusal, the theory's
verdict and an object's way back from an experiment file."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from sgdlab._helpers.registry import Registry
from sgdlab._helpers.validation import InvalidValue
from sgdlab.run.api import minimize
from sgdlab.testing.conformance import Conformance

#: How close a native run must end to the JAX engine's (both compute in float64 on the same plans).
ENGINE_TOLERANCE = 1e-10


def small_least_squares(n: int = 12, p: int = 3, seed: int = 0):
    """A noisy least squares of N = ``n`` rows and p features (float64), θ* known."""
    from sgdlab.problems import least_squares

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return least_squares(X, X @ np.ones(p) + 0.3 * rng.normal(size=n))


def compare_engines(report: Conformance, native: Any, label: str, problem, sampler, step, method=None) -> None:
    """Run two epochs on the JAX engine and ask for the native one: when the object's class declares native support
    (``native`` not None), both must end at the same θ; when it does not, ``engine="native"`` must be refused."""
    settings = dict(sampler=sampler, step=step, epochs=2, seed=3, **({"method": method} if method is not None else {}))
    reference = minimize(problem, engine="jax", **settings)
    report.expect(bool(np.all(np.isfinite(reference.history.loss))), f"runs on the JAX engine ({label})",
                  f"its JAX run ({label}) has non-finite losses: {reference.message}")
    try:
        native_run = minimize(problem, engine="native", **settings)
    except InvalidValue as refusal:
        report.expect(native is None, f"engine='native' refuses it: {refusal}",
                      f"it declares native = {native!r} but engine='native' refuses it ({label}): {refusal}")
        if native is None:
            report.lacks.append(f"native support ({label} runs on the JAX engine; its class may declare native)")
        return
    if native is None:
        report.failures.append(f"engine='native' runs it ({label}) though its class declares no native support")
        return
    gap = float(np.max(np.abs(_flat(native_run.params) - _flat(reference.params))))
    report.expect(gap <= ENGINE_TOLERANCE, f"the native engine ends where the JAX engine does ({label}, {gap:.1e})",
                  f"the native run ends {gap:.3g} from the JAX run ({label}; allowed {ENGINE_TOLERANCE:g})")


def _flat(params) -> np.ndarray:
    """θ's numbers as one vector."""
    return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(params)])


def check_theorem(report: Conformance, check, theorems: tuple, name: str) -> None:
    """The step check quotes one of the object's own ``theorems`` (or none, when an assumption fails), and says "no
    theorem known" when it declares none."""
    titles = {text for theorem in theorems for text in (theorem.name, theorem.title, theorem.statement)}
    if not theorems:
        report.lacks.append(f"a theorem (check_step says: {check.verdict})")
        report.expect(check.theorem is None and "no theorem known" in check.verdict,
                      "check_step says no theorem is known for it",
                      f"check_step quotes {check.theorem!r} for {name}, which declares no theorem")
        return
    quoted = check.theorem is None or check.theorem in titles or any(check.theorem.startswith(title)
                                                                     for title in titles)
    report.expect(quoted, f"check_step quotes its own theorem ({check.theorem})",
                  f"check_step quotes {check.theorem!r}, not one of its theorems {sorted(titles)}")


def registered_name(registry: Registry, obj: Any) -> str | None:
    """The name whose factory, given the object's fields as parameters, builds an equal object (None: none does)."""
    fields = {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)} \
        if dataclasses.is_dataclass(obj) else {}
    for name in registry:
        settings = {key: value for key, value in fields.items() if key in registry.parameters(name)}
        try:
            if registry[name](**settings) == obj:
                return name
        except (TypeError, ValueError):
            continue
    return None


def experiment_settings(registry: Registry, name: str, obj: Any) -> dict[str, Any]:
    """The parameters an experiment file gives ``name`` to build ``obj``: its fields the factory takes."""
    return {key: getattr(obj, key) for key in registry.parameters(name) if hasattr(obj, key)}
