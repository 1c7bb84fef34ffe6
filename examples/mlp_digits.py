"""A ReLU network on scikit-learn's digits: shuffled minibatch SGD against Adam, and the kink count.

Run:  python examples/mlp_digits.py

The data are split 75/25 (stratified, random_state=0) and pixels scaled to [0, 1]. The history's
zero_preactivations column counts hidden pre-activations exactly 0 at each epoch's iterate (where
JAX's relu'(0) = 0 would matter): it stays 0.
"""

import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import sgdlab as sl


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    network = sl.mlp(X_train, y_train, hidden=(64,), seed=0)
    for name, run in {"SGD, shuffled, B=32, α=0.1": dict(step=0.1),
                      "Adam, shuffled, B=32": dict(optimizer=optax.adam(1e-3))}.items():
        result = sl.minimize(network, sampler=sl.shuffled_cyclic(32), epochs=30, seed=0, **run)
        print(f"{name}: train accuracy {network.accuracy(result.params, X_train, y_train):.3f}, "
              f"test accuracy {network.accuracy(result.params, X_test, y_test):.3f}, "
              f"zero pre-activations seen: {int(np.nansum(result.history.zero_preactivations))}")


if __name__ == "__main__":
    main()
