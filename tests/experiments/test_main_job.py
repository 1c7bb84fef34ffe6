"""The main job tells the lecture's story, over seeds: per epoch SGD is ahead of gradient descent early,
shuffled cyclic is at or below SGD with replacement at the same step, every bound lies above its
measured mean, and the least-squares runs carry their exact expected curves."""

import pytest

import sgdlab as sl
from sgdlab.experiments import building, config


@pytest.fixture(scope="module")
def main_job():
    built = building.build(config.validated({}, where="sgdlab compare"))
    problem, runs = built.problem, built.runs
    return sl.compare(problem, runs, seeds=10, epochs=20)


def _mean_gap(comparison, run, epochs):
    table = comparison.table
    return table[(table.run == run) & table.epoch.isin(epochs)].groupby("epoch").gap.mean()


def test_sgd_is_ahead_of_gradient_descent_in_the_first_epochs(main_job):
    for stochastic in ("with_replacement B=1", "shuffled_cyclic B=1", "with_replacement B=32"):
        assert (_mean_gap(main_job, stochastic, [1, 2, 3]) < _mean_gap(main_job, "GD", [1, 2, 3])).all()


@pytest.mark.parametrize("batch_size", [1, 32])
def test_shuffled_cyclic_is_at_or_below_with_replacement_at_the_same_step(main_job, batch_size):
    late = range(5, 21)
    shuffled = _mean_gap(main_job, f"shuffled_cyclic B={batch_size}", late).mean()
    assert shuffled <= _mean_gap(main_job, f"with_replacement B={batch_size}", late).mean()


def test_every_bound_is_above_its_mean_and_the_exact_curves_are_drawn(main_job):
    flags = main_job.flags()
    assert set(flags.run) == {"GD", "with_replacement B=1", "with_replacement B=32", "without_replacement B=32"}
    assert (flags.flagged == "none").all()
    exact = set(main_job.predictions[main_job.predictions.curve == "expected"].run)
    assert exact == {"GD", "with_replacement B=1", "with_replacement B=32", "without_replacement B=32", "cyclic B=1"}


def test_gradient_descent_passes_every_scheme_but_cyclic_which_leads_it_throughout(main_job):
    """The README's story: by epoch 20 gradient descent is below every stochastic run but cyclic B = 1, which is
    below gradient descent at every epoch."""
    epochs = range(1, 21)
    gd = _mean_gap(main_job, "GD", epochs)
    for run in set(main_job.table.run) - {"GD", "cyclic B=1"}:
        assert gd.loc[20] < _mean_gap(main_job, run, [20]).loc[20]
    assert (_mean_gap(main_job, "cyclic B=1", epochs) < gd).all()


def test_the_bounds_on_the_gap_are_shown_to_say_nothing_here_with_the_reason(main_job):
    """κ = 470: every bound on F − p* stays above the measured start, and the report says so, naming κ."""
    flags = main_job.flags()
    gaps = flags[flags.quantity == "gap"]
    assert len(gaps) == 4 and gaps.says.str.startswith("nothing here: it never falls below the measured start").all()
    assert gaps.says.str.contains("κ = 470").all() and (gaps["bound ÷ mean at the end"] > 100).all()
    distances = flags[flags.quantity == "dist_sq"]
    assert (distances.says == "a bound on the run").all()
