"""Schedules: each αₖ equals its formula, evaluated by hand with NumPy."""

import math

import jax
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.schedules import as_schedule

K = np.arange(0, 50)

FORMULAS = [
    (sl.constant(0.3), lambda k: 0.3 + 0 * k),
    (sl.inverse_time(0.5, 0.1), lambda k: 0.5 / (1 + 0.1 * k)),
    (sl.inverse_sqrt(0.2), lambda k: 0.2 / np.sqrt(k + 1)),
    (sl.step_decay(1.0, 0.5, 10), lambda k: 1.0 * 0.5 ** (k // 10)),
    (sl.cosine(0.4, 40), lambda k: 0.4 * 0.5 * (1 + np.cos(np.pi * np.minimum(k, 40) / 40))),
    (sl.cosine(0.4, 40, alpha_min=0.01), lambda k: 0.01 + 0.39 * 0.5 * (1 + np.cos(np.pi * np.minimum(k, 40) / 40))),
]


@pytest.mark.parametrize("schedule, formula", FORMULAS, ids=lambda v: getattr(v, "describe", lambda: "")())
def test_schedule_matches_formula(schedule, formula):
    np.testing.assert_allclose(np.asarray(schedule(K)), formula(K), rtol=1e-14)
    assert float(schedule(7)) == pytest.approx(formula(7), rel=1e-14)


def test_schedules_are_pytrees_so_a_new_alpha_does_not_recompile():
    evaluate = jax.jit(lambda schedule, k: schedule(k))
    assert float(evaluate(sl.inverse_time(0.5, 0.1), 3)) == pytest.approx(0.5 / 1.3)
    assert float(evaluate(sl.inverse_time(0.9, 0.2), 3)) == pytest.approx(0.9 / 1.6)
    assert evaluate._cache_size() == 1


def test_step_accepts_float_schedule_or_callable():
    assert float(as_schedule(0.1)(5)) == 0.1
    assert as_schedule(sl.inverse_sqrt(1.0)) == sl.inverse_sqrt(1.0)
    assert float(as_schedule(lambda k: 1.0 / (k + 2.0))(2)) == pytest.approx(0.25)


def test_describe_gives_the_formula():
    assert sl.inverse_time(0.5, 0.1).describe() == "αₖ = 0.5/(1 + 0.1 k)"
    assert math.isclose(float(sl.step_decay(1.0, 0.5, 10)(25)), 0.25)
