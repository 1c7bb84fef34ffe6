"""The conformance check of a method: its runs on both engines, its theorem, its experiment-file form."""

from __future__ import annotations

from sgdlab._helpers.declared import declared
from sgdlab.experiments import entries
from sgdlab.methods import METHODS, Method
from sgdlab.samplers import shuffled_cyclic
from sgdlab.testing.conformance import Conformance
from sgdlab.testing.runs import (
    check_theorem,
    compare_engines,
    experiment_settings,
    registered_name,
    small_least_squares,
)
from sgdlab.theory import check_step


def check_method(method: Method) -> Conformance:
    """Run ``method`` on a small least squares on both engines (native only when its class declares it), through
    ``check_step`` (its own theorem, or "no theorem known") and an experiment file (its registered name and
    parameters build it again)."""
    report, problem = Conformance(repr(method)), small_least_squares()
    alpha = 0.1 / float(problem.lipschitz_max())
    compare_engines(report, declared(method, "native"), "shuffled cyclic B = 2", problem, shuffled_cyclic(2), alpha,
                    method)
    check = check_step(problem, alpha, shuffled_cyclic(2), method=method)
    if not method.is_plain:   # plain SGD's theorems are its sampler's
        check_theorem(report, check, tuple(declared(method, "theorems", ())), method.describe())
    name = registered_name(METHODS, method)
    if name is None:
        report.lacks.append("registration (METHODS.register): experiment files and --methods cannot name it")
        return report
    rebuilt = entries.build({"name": name, **experiment_settings(METHODS, name, method)}, METHODS, "method")
    report.expect(rebuilt == method, f"an experiment file builds it as method = {name!r}",
                  f"an experiment file naming {name!r} with its parameters builds {rebuilt!r}")
    return report
