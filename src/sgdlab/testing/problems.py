"""The conformance check of a problem family: its identity, its runs on both engines, its step check, its registry
entry."""

from __future__ import annotations

import copy
import numbers
import typing

from sgdlab._helpers.declared import declared
from sgdlab.problems import FAMILIES
from sgdlab.problems.base import Problem
from sgdlab.run.identity import problem_fingerprint
from sgdlab.samplers import shuffled_cyclic
from sgdlab.testing.conformance import Conformance
from sgdlab.testing.runs import compare_engines
from sgdlab.theory import check_step, lipschitz


def check_problem(problem: Problem) -> Conformance:
    """Run ``problem`` through its hyperparameters (each one kept, and seen by the run identity: a copy with it
    changed has another fingerprint), a run on both engines (native only when its class declares a loss kernel or
    network), ``check_step`` and the registry of families."""
    report = Conformance(repr(problem))
    try:
        hyperparameters = problem.hyperparameters()
    except TypeError as error:
        report.failures.append(str(error))
        return report
    report.passed.append(f"its hyperparameters are kept: {sorted(hyperparameters) or 'none'}")
    for name, value in hyperparameters.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            report.expect(_fingerprint_with(problem, name, value + 1) != problem_fingerprint(problem),
                          f"the run identity sees {name}", f"two problems differing only in {name} share a fingerprint"
                          " (their comparisons would share saved runs)")
    alpha = 0.1 / float(lipschitz(problem))
    native = declared(problem, "native_loss") or declared(problem, "native_network")
    compare_engines(report, native, "shuffled cyclic B = 2", problem, shuffled_cyclic(2), alpha)
    report.passed.append(f"check_step judges a step: {check_step(problem, alpha, shuffled_cyclic(2)).verdict}")
    if not any(_builds(FAMILIES[name], type(problem)) for name in FAMILIES):
        report.lacks.append("a registered family (FAMILIES.register): experiment files cannot name it")
    return report


def _fingerprint_with(problem: Problem, name: str, value) -> str:
    """The fingerprint of a copy of ``problem`` whose hyperparameter ``name`` is ``value``."""
    changed = copy.copy(problem)
    changed.__dict__.pop("_memo", None)
    setattr(changed, name if name in vars(problem) else "_" + name, value)
    return problem_fingerprint(changed)


def _builds(factory, kind: type) -> bool:
    """Whether ``factory`` is declared to return ``kind``."""
    try:
        return typing.get_type_hints(factory).get("return") is kind
    except (NameError, TypeError):
        return False
