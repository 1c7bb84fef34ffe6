"""Time that means time: compilation and first-call set-up happen when a program is prepared, so a
run's first epoch costs what its later epochs cost, even with nothing in Numba's cache yet."""

import json
import os
import subprocess
import sys

CODE = """
import json, numpy as np, sgdlab as sl
X = np.random.default_rng(0).normal(size=(20_000, 10))
problem = sl.least_squares(X, X.sum(axis=1))
runs = {name: dict(sampler=sampler, step="0.5/L_B") for name, sampler in (
    ("with_replacement", sl.with_replacement(1)), ("cyclic", sl.cyclic(1)), ("shuffled_cyclic", sl.shuffled_cyclic(1)),
    ("without_replacement", sl.without_replacement(8)), ("parted", sl.shuffled_cyclic(512)))}
table = sl.compare(problem, runs, seeds=2, epochs=3).table
alone = sl.minimize(problem, sl.shuffled_cyclic(512), step=1e-3, epochs=3).history.time.tolist()
first = table[table.epoch == 1].groupby("run").time.first()
later = table[table.epoch == 3].groupby("run").time.first() - table[table.epoch == 2].groupby("run").time.first()
print(json.dumps({"first": first.to_dict(), "later": later.to_dict(), "alone": alone}))
"""


def test_the_first_epoch_costs_what_later_epochs_cost_with_a_cold_numba_cache(tmp_path):
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}   # nothing cached: every loop compiles
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=environment)
    times = json.loads(out.stdout.strip().splitlines()[-1])
    for run, first in times["first"].items():   # a compile would take ~0.3 s a lane; an epoch takes ms
        assert first < 10 * times["later"][run] + 0.02, (run, times)
    first, second, third = (b - a for a, b in zip(times["alone"], times["alone"][1:], strict=False))
    assert first < 10 * max(second, third) + 0.02, times["alone"]
