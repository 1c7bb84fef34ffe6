"""What the theory says, made checkable on your own problem and run.

* :mod:`~sgdlab.theory.smoothness`: L and L_max;
* :mod:`~sgdlab.theory.minibatch`: a sampler's minibatch constant L_B and noise at the optimum σ*²;
* :mod:`~sgdlab.theory.step_check`: a run's step against its theorem's limits;
* :mod:`~sgdlab.theory.theorems`: the theorem behind each sampler and step, and its bound;
* :mod:`~sgdlab.theory.shuffling`: the drift of shuffled and cyclic orders at θ* that their bound needs;
* :mod:`~sgdlab.theory.descent`: gradient descent's guarantees checked on a run;
* :mod:`~sgdlab.theory.unbiasedness`: whether a sampler's gradient is unbiased;
* :mod:`~sgdlab.theory.expected`: the exact expected curves of SGD on least squares;
* :mod:`~sgdlab.theory.noise_scale`: the gradient-noise scale B_simple;
* :mod:`~sgdlab.theory.probe`: what each batch size costs per step on a device.
"""

from sgdlab.theory.curvature import Curvature, curvature
from sgdlab.theory.descent import Descent, GradientBound, descent, gradient_bound
from sgdlab.theory.expected import exact_cost, expected_history
from sgdlab.theory.minibatch import gradient_noise_at_optimum, minibatch_lipschitz, variance_factor
from sgdlab.theory.noise_scale import NoiseScale, noise_scale
from sgdlab.theory.probe import probe_batch_sizes
from sgdlab.theory.smoothness import LipschitzConstant, hessian_norm, lipschitz, lipschitz_max
from sgdlab.theory.step_check import StepCheck, check_step
from sgdlab.theory.theorems import Guarantee, bound, guarantee
from sgdlab.theory.unbiasedness import Unbiasedness, unbiasedness

__all__ = ["Curvature", "Descent", "GradientBound", "Guarantee", "LipschitzConstant", "NoiseScale", "StepCheck",
           "Unbiasedness",
           "bound", "check_step", "curvature", "descent", "exact_cost", "expected_history", "gradient_bound",
           "gradient_noise_at_optimum", "guarantee", "hessian_norm", "lipschitz", "lipschitz_max",
           "minibatch_lipschitz", "noise_scale", "probe_batch_sizes", "unbiasedness", "variance_factor"]
