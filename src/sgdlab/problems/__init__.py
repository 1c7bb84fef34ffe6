"""What to minimize: the Problem base, user finite sums, and the built-in families."""

from sgdlab.problems.base import FiniteSum, Problem, finite_sum
from sgdlab.problems.least_squares import LeastSquares, least_squares
from sgdlab.problems.logistic import LogisticRegression, logistic_regression
from sgdlab.problems.softmax import SoftmaxRegression, softmax_regression

__all__ = [
    "Problem", "FiniteSum", "finite_sum",
    "LeastSquares", "least_squares",
    "LogisticRegression", "logistic_regression",
    "SoftmaxRegression", "softmax_regression",
]
