"""Orders of the examples at a constant step on a quadratic, against what their analyses state."""

import numpy as np

import sgdlab as sl


def test_flip_flop_ends_below_random_reshuffling_on_a_quadratic():
    # Rajput, Lee and Papailiopoulos (2022): on quadratics, reversing every other epoch cancels the first-order
    # drift random reshuffling (RR) leaves, so at a constant step flip-flop's gap after an even number of epochs is
    # at most RR's. 20 seeds of each (the count), 20 epochs; the runs sit at their noise floor from about
    # epoch 10, so each seed's gap is averaged over the even epochs 10, 12, …, 20 (one epoch's gap varies from seed
    # to seed as much as the effect). The paired difference must exceed twice its standard error, so a coin flip
    # cannot pass (measured: flip-flop 4.5e-4 against RR's 9.0e-4, the difference 6 standard errors).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4))
    problem = sl.least_squares(X, X @ rng.normal(size=4) + 0.5 * rng.normal(size=32))
    alpha = 0.25 / problem.lipschitz_max()
    runs = {"rr": dict(sampler=sl.shuffled_cyclic(1), step=alpha),
            "flip_flop": dict(sampler=sl.flip_flop(1), step=alpha)}
    table = sl.compare(problem, runs, seeds=20, epochs=20, record_every=2).table
    floor = table[table.epoch >= 10]
    gaps = {name: floor[floor.run == name].groupby("seed").gap.mean().to_numpy() for name in runs}
    difference = gaps["rr"] - gaps["flip_flop"]
    assert gaps["flip_flop"].mean() <= gaps["rr"].mean()
    assert difference.mean() > 2 * difference.std(ddof=1) / np.sqrt(difference.size)


def test_grab_ends_below_random_reshuffling_on_least_squares_and_logistic_regression():
    # Lu, Guo and De Sa (2022), their logistic-regression figure: at the same constant step after the same epochs,
    # GraB's herded orders reach a lower training loss than random reshuffling. 10 seeds each (the count),
    # B = 1, 10 epochs at α = 0.5/L_max, both runs on the JAX engine (the same arithmetic but for the order). Every
    # seed must end lower (a coin flip passes with probability 2⁻¹⁰), and the mean by a factor of 2 (measured:
    # least squares 2.4e-3 against 3.0e-2, logistic regression 1.9e-3 against 3.8e-3).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 10))
    y = X @ rng.normal(size=10) + rng.normal(size=256)
    for problem in (sl.least_squares(X, y), sl.logistic_regression(X, (y > 0).astype(int), l2=1e-3)):
        alpha = 0.5 / problem.lipschitz_max()
        runs = {"rr": dict(sampler=sl.shuffled_cyclic(1), step=alpha), "grab": dict(sampler=sl.grab(1), step=alpha)}
        table = sl.compare(problem, runs, seeds=10, epochs=10, engine="jax", predict=False).table
        gaps = {name: table[table.run == name].groupby("seed").gap.last().to_numpy() for name in runs}
        assert np.all(gaps["grab"] < gaps["rr"])
        assert gaps["grab"].mean() < 0.5 * gaps["rr"].mean()
