"""What to minimize: the Problem base, user finite sums, and the built-in families."""

from sgdlab.problems.base import Problem
from sgdlab.problems.curve_fit import CurveFit, curve_fit, fourier, gaussian_rbf, polynomial
from sgdlab.problems.expectation import Expectation, expectation
from sgdlab.problems.finite_sum import FiniteSum, Negation, finite_sum
from sgdlab.problems.least_squares import LeastSquares, least_squares
from sgdlab.problems.logistic import LogisticRegression, logistic_regression
from sgdlab.problems.mlp import MLP, mlp
from sgdlab.problems.registry import FAMILIES
from sgdlab.problems.robust import RobustRegression, robust_regression
from sgdlab.problems.softmax import SoftmaxRegression, softmax_regression
from sgdlab.problems.streaming import streaming_least_squares

__all__ = [
    "FAMILIES",
    "MLP",
    "CurveFit",
    "Expectation",
    "FiniteSum",
    "LeastSquares",
    "LogisticRegression",
    "Negation",
    "Problem",
    "RobustRegression",
    "SoftmaxRegression",
    "curve_fit",
    "expectation",
    "finite_sum",
    "fourier",
    "gaussian_rbf",
    "least_squares",
    "logistic_regression",
    "mlp",
    "polynomial",
    "robust_regression",
    "softmax_regression",
    "streaming_least_squares",
]
