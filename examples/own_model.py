"""Your own model: any per-example loss in jax.numpy and any pytree of parameters.

Run:  python examples/own_model.py

A small hand-written network, y ≈ Σⱼ aⱼ tanh(wⱼ x + bⱼ) + c, fitted to noisy samples of a
smooth function with shuffled minibatch SGD and with Adam (any optax transformation works).
"""

import jax.numpy as jnp
import numpy as np
import optax

import sgdlab as sl


def predict(params, x):
    """The model at one input x: Σⱼ aⱼ tanh(wⱼ x + bⱼ) + c."""
    return jnp.dot(params["a"], jnp.tanh(params["w"] * x + params["b"])) + params["c"]


def squared_error(params, example):
    """One example's loss, ½(model(x) − y)²."""
    x, y = example
    return 0.5 * (predict(params, x) - y) ** 2


def main():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=400)
    y = np.sin(x) * np.exp(-0.1 * x**2) + 0.05 * rng.normal(size=400)
    params0 = {"a": 0.5 * rng.normal(size=8), "w": rng.normal(size=8), "b": rng.normal(size=8), "c": np.zeros(())}
    problem = sl.finite_sum(squared_error, (x, y), params0)
    for name, run in {"SGD, shuffled, B=16": dict(sampler=sl.shuffled_cyclic(16), step=0.1),
                      "Adam, shuffled, B=16": dict(sampler=sl.shuffled_cyclic(16), optimizer=optax.adam(0.01))}.items():
        result = sl.minimize(problem, epochs=200, record_every=50, **run)
        print(f"{name}: {result.message}")
    grid = np.linspace(-3, 3, 7)
    print("model at", grid.round(1), "=", np.round([float(predict(result.params, g)) for g in grid], 3))


if __name__ == "__main__":
    main()
