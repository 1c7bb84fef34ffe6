"""What to minimize: the Problem base, user finite sums, and the built-in families."""

from sgdlab.problems.base import FiniteSum, Negation, Problem, finite_sum
from sgdlab.problems.expectation import Expectation, expectation
from sgdlab.problems.streaming import streaming_least_squares
from sgdlab.problems.curve_fit import CurveFit, curve_fit, fourier, gaussian_rbf, polynomial
from sgdlab.problems.least_squares import LeastSquares, least_squares
from sgdlab.problems.mlp import MLP, mlp
from sgdlab.problems.logistic import LogisticRegression, logistic_regression
from sgdlab.problems.softmax import SoftmaxRegression, softmax_regression

__all__ = [
    "Problem", "FiniteSum", "Negation", "finite_sum", "Expectation", "expectation", "streaming_least_squares",
    "CurveFit", "curve_fit", "polynomial", "fourier", "gaussian_rbf",
    "LeastSquares", "least_squares",
    "LogisticRegression", "logistic_regression",
    "SoftmaxRegression", "softmax_regression",
    "MLP", "mlp",
]
