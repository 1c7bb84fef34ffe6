"""Curve fitting: least squares on basis features, against numpy.polyfit and lstsq on hand-built features."""

import re

import numpy as np
import pytest

import sgdlab as sl

x = np.linspace(-1.0, 2.0, 60)
y = np.sin(2.0 * x) + 0.1 * np.random.default_rng(9).normal(size=60)


def test_polynomial_fit_matches_polyfit():
    problem = sl.curve_fit(x, y, basis=sl.polynomial(4))
    np.testing.assert_allclose(problem.solution(), np.polyfit(x, y, 4)[::-1], rtol=1e-9, atol=1e-11)
    x_new = np.array([-0.5, 0.3, 1.7])
    np.testing.assert_allclose(problem.predict(problem.solution(), x_new), np.polyval(np.polyfit(x, y, 4), x_new), rtol=1e-9)


def test_fourier_fit_matches_lstsq_on_hand_built_features():
    problem = sl.curve_fit(x, y, basis=sl.fourier(2))
    P = x.max() - x.min()
    features = np.column_stack([np.ones_like(x)] + [f(2 * np.pi * k * x / P) for k in (1, 2) for f in (np.cos,)]
                               + [np.sin(2 * np.pi * k * x / P) for k in (1, 2)])
    np.testing.assert_allclose(problem.solution(), np.linalg.lstsq(features, y, rcond=None)[0], atol=1e-10)


def test_rbf_fit_matches_lstsq_and_sgd_reaches_it():
    centers = np.linspace(-1, 2, 6)
    problem = sl.curve_fit(x, y, basis=sl.gaussian_rbf(centers, 0.5))
    features = np.exp(-((x[:, None] - centers[None, :]) ** 2) / (2 * 0.5**2))
    np.testing.assert_allclose(problem.solution(), np.linalg.lstsq(features, y, rcond=None)[0], atol=1e-9)
    result = sl.minimize(problem, sampler=sl.shuffled_cyclic(6), step=sl.inverse_time(0.3, 0.001), epochs=400)
    assert result.history.gap.iloc[-1] < 1e-3 * result.history.gap.iloc[0]


@pytest.mark.parametrize("call, error, text", [
    (lambda: sl.polynomial(-1), ValueError, "degree must be an integer >= 0 for polynomial; got -1"),
    (lambda: sl.fourier(0), ValueError, "n must be an integer >= 1 for fourier; got 0"),
    (lambda: sl.gaussian_rbf([0.0], 0.0), ValueError, "width must be a positive finite number for gaussian_rbf; got 0.0"),
    (lambda: sl.curve_fit(x, y, basis="cubic"), TypeError, "basis must be a basis such as sl.polynomial(3)"),
    (lambda: sl.curve_fit(np.ones(5), np.ones(5), basis=sl.fourier(2)), ValueError, "x must be at least two distinct values"),
    (lambda: sl.curve_fit(x[:10], y, basis=sl.polynomial(2)), ValueError, "X and y must be of the same length"),
])
def test_bad_curve_fit_input(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()
