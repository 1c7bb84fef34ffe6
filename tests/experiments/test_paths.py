"""compare(..., record_params=True) and Comparison.plot_paths: the lanes' paths equal minimize's, the figure
draws each path in the right plane over F's level sets."""

import matplotlib
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.experiments import plots

matplotlib.use("Agg")

RUNS = {
    "gd": dict(sampler=sl.full_batch(), step="1/L"),
    "sgd": dict(sampler=sl.with_replacement(1), step=0.02),
    "rr": dict(sampler=sl.shuffled_cyclic(8), step=0.05),
}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(90, 4)) * np.array([3.0, 1.0, 1.0, 0.5])
    return sl.least_squares(X, X @ np.array([1.0, -1.0, 2.0, 0.5]) + 0.2 * rng.normal(size=90))


@pytest.fixture(scope="module")
def comparison(problem):
    return sl.compare(problem, RUNS, seeds=2, epochs=5, record_params=True, predict=False)


def test_lanes_paths_equal_minimize_paths(problem, comparison):
    assert set(comparison.paths) == {(run, seed) for run in RUNS for seed in range(2)}
    step = {"gd": 1 / problem.lipschitz(), "sgd": 0.02, "rr": 0.05}
    for (run, seed), path in comparison.paths.items():
        alone = sl.minimize(problem, sampler=RUNS[run]["sampler"], step=step[run], epochs=5, seed=seed,
                            record_params=True)
        np.testing.assert_allclose(np.array(path), np.array(alone.path), rtol=0, atol=1e-10)


def test_paths_are_refused_with_a_saved_comparison(problem, tmp_path):
    with pytest.raises(ValueError, match=r"record_params must be False with out="):
        sl.compare(problem, RUNS, seeds=1, epochs=1, record_params=True, out=tmp_path / "study")


def test_plot_paths_without_paths_says_how_to_keep_them(problem):
    bare = sl.compare(problem, {"gd": RUNS["gd"]}, seeds=1, epochs=1, predict=False)
    with pytest.raises(ValueError, match="record_params=True"):
        bare.plot_paths()


def test_projected_plane_is_the_hessians_top_eigenvectors(problem, comparison):
    """For p = 4 each drawn point is (θ − θ*) projected on the two eigenvectors of XᵀX/N with the largest
    eigenvalues (numpy.linalg.eigh as the reference); signs of eigenvectors are arbitrary."""
    figure = comparison.plot_paths(seed=1)
    ax = figure.axes[0]
    X = np.asarray(problem.data[0])
    _, vectors = np.linalg.eigh(X.T @ X / len(X))
    top = vectors[:, ::-1][:, :2]
    lines = {line.get_label(): line for line in ax.get_lines()}
    for run in RUNS:
        expected = (np.array(comparison.paths[(run, 1)]) - problem.solution()) @ top
        drawn = np.column_stack(lines[run].get_data())
        np.testing.assert_allclose(np.abs(drawn), np.abs(expected), rtol=1e-6, atol=1e-9)
    assert ax.collections, "the level sets of F are drawn"


def test_plane_of_two_parameters_is_theta_itself():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    problem = sl.least_squares(X, X @ np.array([2.0, -1.0]) + rng.normal(size=30))
    comparison = sl.compare(problem, {"gd": dict(sampler=sl.full_batch(), step="1/L")}, seeds=1, epochs=3,
                            record_params=True, predict=False)
    ax = comparison.plot_paths().axes[0]
    drawn = np.column_stack(ax.get_lines()[0].get_data())
    np.testing.assert_allclose(drawn, np.array(comparison.paths[("gd", 0)]) - problem.solution(), atol=1e-12)
    assert ax.get_xlabel() == "θ₁ − θ*₁"


def test_level_sets_are_drawn_at_the_values_of_F(problem, comparison):
    """On every contour line, F (evaluated with NumPy at the line's points lifted back to θ) minus the
    line's level is one constant (the grid's minimum of F): the lines are F's level sets on the plane,
    up to the linear interpolation of an 80-point grid (well under 1% of the levels' range)."""
    figure = comparison.plot_paths(seed=0, runs=["gd"])
    contour = figure.axes[0].collections[0]
    X, y = (np.asarray(part) for part in problem.data)
    plane = plots._PathPlane(problem, {"gd": comparison.paths[("gd", 0)]})
    offsets = []
    for level, line in zip(contour.levels, contour.get_paths(), strict=True):
        thetas = problem.solution() + line.vertices @ plane.basis
        offsets.extend(0.5 * np.mean((thetas @ X.T - y) ** 2, axis=1) - level)
    assert len(offsets) > 100
    assert np.ptp(offsets) < 0.01 * (contour.levels[-1] - contour.levels[0])



@pytest.mark.parametrize(("keywords", "error", "words"), [
    ({"seed": 7}, ValueError, "a seed whose paths were kept"),
    ({"runs": ["nope"]}, ValueError, "runs among"),
    ({"since": 99}, ValueError, "rows before their ends"),
    ({"since": -1}, ValueError, "since must be an integer >= 0"),
    ({"since": 1.5}, TypeError, "since must be an integer >= 0"),
])
def test_plot_paths_names_what_was_wrong(comparison, keywords, error, words):
    with pytest.raises(error, match=words):
        comparison.plot_paths(**keywords)
