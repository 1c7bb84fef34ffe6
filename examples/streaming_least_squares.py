"""Streaming least squares: SGD on an expectation, with fresh data at every step.

Run:  python examples/streaming_least_squares.py

x ~ N(0, Σ), y = xᵀθ* + ε, f(θ, (x, y)) = ½(xᵀθ − y)², so F(θ) = E f = ½(θ − θ*)ᵀΣ(θ − θ*) + σ²/2 is
known exactly (L = λ_max(Σ), μ = λ_min(Σ)). SGD with B fresh draws per step and αₖ = c/(k + k₀)
is compared with gradient descent on the exact expectation, θᵏ⁺¹ = θᵏ − α E_ω[∇f(θᵏ, ω)].
"""

import numpy as np

import sgdlab as sl


def main():
    problem = sl.problems.streaming_least_squares(theta_star=[2.0, -1.0, 0.5, 0.0], variances=[4.0, 1.0, 0.5, 0.25],
                                                  noise=0.3)   # L = 4, μ = 0.25
    mu = 0.25
    sgd = sl.minimize(problem, sampler=sl.iid(8), step=sl.inverse_time(0.1, 0.1 * mu / 2), steps=20_000,
                      record_every=4_000, seed=0)   # αₖ = c/(k + k₀) with c = 2/μ, k₀ = 2/(0.1 μ) = 80
    gd = sl.minimize(problem, sampler=sl.full_batch(), step=1 / 4.0, steps=200, record_every=50)
    print("SGD, 8 fresh draws a step:", sgd.message)
    print(sgd.history[["iteration", "gap", "dist"]].to_string(index=False))
    print("GD on the exact expectation:", gd.message)
    print("θ after SGD:", np.round(sgd.params, 4))


if __name__ == "__main__":
    main()
