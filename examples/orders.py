"""Orders of the examples at a constant step: random reshuffling against flip-flop, GraB and shuffle once.

Run:  python examples/orders.py

Least squares on synthetic data (N = 200, p = 10, κ = 10, noise 1), B = 1, 20 seeds, 100 epochs, at three
constant steps α = c/L_max. Each order uses every example once an epoch; they differ in the order.
Flip-flop reverses every other epoch (Rajput, Lee and Papailiopoulos 2022), which on a quadratic cancels the
first-order drift random reshuffling leaves, a term that matters as α becomes small. GraB (Lu, Guo and De Sa
2022) orders each epoch by herding the previous epoch's per-example gradients, so that every prefix of an epoch
sums close to its share of the full gradient. At a constant step
every run settles at a noise floor; the table gives that floor, the mean F − p* over the seeds and over
the even epochs 50, 52, …, 100, and flip-flop's and GraB's as fractions of random reshuffling's.
"""

import sgdlab as sl

ORDERS = {"random reshuffling": sl.shuffled_cyclic(1), "flip-flop": sl.flip_flop(1), "GraB": sl.grab(1),
          "shuffle once": sl.shuffle_once(1)}
FACTORS = (0.1, 0.25, 0.5)


def main():
    data = sl.data.synthetic(n=200, p=10, condition_number=10, noise=1.0, seed=0)
    problem = sl.least_squares(data.X, data.y)
    runs = {(name, factor): dict(sampler=sampler, step=factor / problem.lipschitz_max())
            for name, sampler in ORDERS.items() for factor in FACTORS}
    table = sl.compare(problem, {f"{name} {factor}": run for (name, factor), run in runs.items()}, seeds=20,
                       epochs=100, record_every=2).table
    floors = table[table.epoch >= 50].groupby("run").gap.mean()
    print("noise floor of F − p* (mean over 20 seeds and epochs 50–100), B = 1")
    print(f"{'α':>14}" + "".join(f"{name:>20}" for name in ORDERS) + f"{'flip-flop / RR':>16}{'GraB / RR':>12}")
    for factor in FACTORS:
        values = [floors[f"{name} {factor}"] for name in ORDERS]
        print(f"{f'{factor}/L_max':>14}" + "".join(f"{value:>20.3g}" for value in values)
              + f"{values[1] / values[0]:>16.2f}{values[2] / values[0]:>12.3f}")


if __name__ == "__main__":
    main()
