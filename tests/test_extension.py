"""Extending sgdlab from outside, as a contributor would, with no edit to src/: a sampler (a fresh permutation every
k epochs), a method (SARAH, Nguyen, Liu, Scheinberg and Takáč 2017) and a problem family with its own
hyperparameter (Huber regression's δ), each registered in one line, run through minimize, compare, an experiment
file, the command line, check_step and the conformance kit. And subclasses that change behaviour inherit none of
their parent's claims (native kernels, theorems)."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sgdlab as sl
from sgdlab.experiments.cli import main
from sgdlab.methods import METHODS, StepGradients
from sgdlab.methods.momentum import HeavyBall
from sgdlab.problems import FAMILIES, FiniteSum
from sgdlab.problems.least_squares import LeastSquares
from sgdlab.run.identity import problem_fingerprint
from sgdlab.samplers import SAMPLERS, Blocks
from sgdlab.samplers.draws import permutation
from sgdlab.testing import check_method, check_problem, check_sampler


@dataclasses.dataclass(frozen=True, repr=False)
class EveryK(Blocks):
    """Blocks of a fresh permutation every ``every`` epochs (random reshuffling when every = 1)."""

    every: int = 2
    name = "every_k"

    def order(self, n, seed, epoch):
        return permutation(n, seed, epoch - epoch % self.every)


def every_k(batch_size: int = 1, every: int = 2, drop_last: bool = False) -> EveryK:
    return EveryK(batch_size, drop_last, every)


@dataclasses.dataclass(frozen=True, repr=False)
class NativeEveryK(EveryK):
    """The same sampler, its class declaring that the native loop needs nothing but its plans."""

    native = "plans"


@dataclasses.dataclass(frozen=True)
class SARAH(sl.methods.Method):
    """SARAH: at an epoch's first step v = ∇F(θ); then v ← g(θ) − g(θ⁻) + v on the step's batch, θ⁺ = θ − α v."""

    name = "sarah"
    gradients_per_example = 2
    needs_finite_sum = True

    def init(self, params, n=None):
        return params, jax.tree.map(jnp.zeros_like, params)

    def flags(self, n, batch_size, seed, epoch, steps):
        flags = np.zeros(steps, dtype=bool)
        flags[0] = True
        return flags

    def step(self, params, state, gradients: StepGradients, alpha):
        previous, v = state
        recursive = gradients.mean(params) - gradients.mean(previous) + v
        v = jax.lax.cond(gradients.flag, lambda: gradients.full(params), lambda: recursive)
        return params - alpha * v, (params, v)

    def describe(self):
        return "SARAH"


def sarah() -> SARAH:
    return SARAH()


class Huber(FiniteSum):
    """Huber regression, fᵢ(θ) = h_δ(xᵢᵀθ − yᵢ), h_δ(r) = r²/2 for |r| ≤ δ, else δ(|r| − δ/2). Its loss reads δ from
    the problem, so only the problem's hyperparameters tell two δ apart."""

    def __init__(self, X, y, delta: float = 1.0):
        self.delta = float(delta)
        X = np.asarray(X, dtype=np.float64)
        super().__init__(self.residual_loss, (X, np.asarray(y, dtype=np.float64)), np.zeros(X.shape[1]))

    def residual_loss(self, theta, example):
        r = example[0] @ theta - example[1]
        return jnp.where(jnp.abs(r) <= self.delta, 0.5 * r**2, self.delta * (jnp.abs(r) - 0.5 * self.delta))


def huber(X, y, delta: float = 1.0) -> Huber:
    return Huber(X, y, delta)


@pytest.fixture
def registered():
    """The three entries registered, one line each, and taken out after the test."""
    SAMPLERS.register(every_k)
    METHODS.register(sarah)
    FAMILIES.register(huber, data="diabetes")
    yield
    for registry, name in ((SAMPLERS, "every_k"), (METHODS, "sarah"), (FAMILIES, "huber")):
        registry.unregister(name)


def _regression(n=40, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    return X, X @ np.arange(1.0, p + 1) + 0.5 * rng.standard_t(2, size=n)


def test_a_new_sampler_runs_everywhere_and_natively_only_when_it_says_so(registered, tmp_path):
    problem = sl.least_squares(*_regression())
    sampler = every_k(4, every=3)
    assert [batch.tolist() for batch in sampler.batches(8, epoch=1, seed=2)] == \
        [batch.tolist() for batch in sampler.batches(8, epoch=0, seed=2)]   # one permutation for epochs 0, 1, 2
    assert [batch.tolist() for batch in sampler.batches(8, epoch=3, seed=2)] != \
        [batch.tolist() for batch in sampler.batches(8, epoch=0, seed=2)]
    auto = sl.minimize(problem, sampler, step=0.05, epochs=4)
    assert auto.engine == "jax" and auto.status == "max_epochs"
    with pytest.raises(ValueError, match="engine must be 'auto' or 'jax' here; got 'native', but EveryK declares no "
                                         "native support"):
        sl.minimize(problem, sampler, step=0.05, epochs=4, engine="native")
    native = sl.minimize(problem, NativeEveryK(4, False, 3), step=0.05, epochs=4, engine="native")
    np.testing.assert_allclose(native.params, auto.params, rtol=0, atol=1e-10)
    check = sl.check_step(problem, 0.05, sampler)
    assert check.theorem is None and "no theorem known for every_k(batch_size=4" in check.verdict
    report = check_sampler(sampler)
    assert report.ok and any("native support" in text for text in report.lacks), report
    assert check_sampler(NativeEveryK(4, False, 3)).check().ok


def test_sarah_matches_its_algorithm_and_converges_linearly(registered):
    X, y = _regression(n=24, p=3)
    problem = sl.least_squares(X, y)
    alpha, sampler = 0.1 / problem.lipschitz_max(), sl.shuffled_cyclic(4)
    result = sl.minimize(problem, sampler, step=alpha, method=sarah(), epochs=3, record_every=1)
    theta = np.zeros(3)   # SARAH written out in NumPy on the same plans
    for epoch in range(3):
        previous, v = theta, None
        for step, batch in enumerate(sampler.batches(24, epoch=epoch, seed=0)):
            rows = X[batch]
            if step == 0:
                v = X.T @ (X @ theta - y) / 24
            else:
                v = rows.T @ (rows @ theta - y[batch]) / len(batch) - rows.T @ (rows @ previous - y[batch]) / len(
                    batch) + v
            previous, theta = theta, theta - alpha * v
    np.testing.assert_allclose(result.params, theta, rtol=0, atol=1e-12)
    long = sl.minimize(problem, sampler, step=5 * alpha, method=sarah(), epochs=60)
    plain = sl.minimize(problem, sampler, step=5 * alpha, epochs=60)
    assert long.history.gap.iloc[-1] < 1e-10 < 1e-5 < plain.history.gap.iloc[-1]   # SARAH has no noise floor (2e-13
    # against plain SGD's 6e-4 here)
    with pytest.raises(ValueError, match="got 'native', but the method is SARAH"):
        sl.minimize(problem, sampler, step=alpha, method=sarah(), epochs=1, engine="native")
    check = sl.check_step(problem, alpha, sampler, method=sarah())
    assert check.theorem is None and "no theorem known for SARAH" in check.verdict
    assert check_method(sarah()).check().ok


def test_a_new_family_is_fingerprinted_by_its_hyperparameter(registered, tmp_path):
    X, y = _regression()
    one, two = huber(X, y, delta=1.0), huber(X, y, delta=2.0)
    assert problem_fingerprint(one) != problem_fingerprint(two)
    runs = {"rr": dict(sampler=sl.shuffled_cyclic(4), step=0.05)}
    first = sl.compare(one, runs, seeds=2, epochs=2, out=tmp_path, predict=False)
    second = sl.compare(two, runs, seeds=2, epochs=2, out=tmp_path, predict=False, overwrite=True)
    assert first.reused == 0 and second.reused == 0   # δ = 2 never reads δ = 1's saved runs
    assert not np.allclose(first.table.loss, second.table.loss)
    again = sl.compare(two, runs, seeds=2, epochs=2, out=tmp_path, predict=False)
    assert again.reused == 2
    with pytest.raises(ValueError, match="Huber is not a built-in linear model"):
        sl.minimize(one, sl.cyclic(4), step=0.05, epochs=1, engine="native")
    report = check_problem(one)
    assert report.ok and "the run identity sees delta" in report.passed, report
    assert not any("registered family" in text for text in report.lacks)


def test_the_new_entries_run_from_an_experiment_file_and_the_command_line(registered, tmp_path, capsys):
    (tmp_path / "exp.toml").write_text(
        '[problem]\nkind = "huber"\ndelta = 2.0\n\n[compare]\nepochs = 2\nseeds = 1\nout = "out"\n\n'
        '[runs.a]\nsampler = "every_k"\nbatch_size = 8\nevery = 3\nmethod = "sarah"\nstep = 0.01\n\n'
        '[runs.b]\nsampler = { name = "every_k", batch_size = 4, every = 1 }\nstep = 0.01\n')
    assert main(["run", str(tmp_path / "exp.toml")]) == 0
    saved = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert saved["source"]["kind"] == "huber" and saved["source"]["delta"] == 2.0
    assert saved["runs"]["a"]["sampler"] == "every_k(batch_size=8, drop_last=False, every=3)"
    assert saved["runs"]["a"]["method"] == "SARAH" and saved["runs"]["a"]["engine"] == "jax"
    assert saved["runs"]["b"]["sampler"] == "every_k(batch_size=4, drop_last=False, every=1)"
    args = ["compare", "--problem", "huber", "--param", "delta=0.5", "--schemes", "every_k:every=3,cyclic",
            "--batch-sizes", "8", "--methods", "plain,sarah", "--step", "0.01", "--epochs", "2", "--seeds", "1",
            "--out", str(tmp_path / "cli")]
    assert main(args) == 0
    runs = json.loads((tmp_path / "cli" / "experiment.json").read_text())["runs"]
    assert set(runs) == {"every_k:every=3 B=8", "every_k:every=3 B=8 sarah", "cyclic B=8", "cyclic B=8 sarah"}
    assert runs["every_k:every=3 B=8"]["step_check"] == "L unknown"   # Huber's L is not known to sgdlab
    capsys.readouterr()
    assert main(["compare", "--problem", "huber", "--param", "gamma=1", "--out", str(tmp_path / "bad")]) == 2
    assert "[problem] must be made of the keys kind, data, target, standardize, intercept, test_fraction, delta; " \
           "got unknown key 'gamma'" in capsys.readouterr().err


@dataclasses.dataclass(frozen=True)
class DampedHeavyBall(HeavyBall):
    """Heavy ball whose velocity forgets twice as fast: another update under the parent's name."""

    def apply(self, params, state, grads, alpha):
        velocity = jax.tree.map(lambda v, g: 0.5 * self.beta * v + g, state, grads)
        return jax.tree.map(lambda p, v: p - alpha * v, params, velocity), velocity


class AbsoluteLeastSquares(LeastSquares):
    """Least squares' rows with another loss: the parent's native kernel ("squared") must not run it."""

    @staticmethod
    def margin_losses(margins, y):
        return jnp.sqrt(1.0 + (margins - y) ** 2)


def test_a_heavy_ball_subclass_is_run_as_itself_and_gets_no_theorem():
    problem = sl.least_squares(*_regression())
    settings = dict(sampler=sl.shuffled_cyclic(4), step=0.02, epochs=3)
    auto = sl.minimize(problem, method=DampedHeavyBall(0.9), **settings)
    jax_run = sl.minimize(problem, method=DampedHeavyBall(0.9), engine="jax", **settings)
    assert auto.engine == "jax"
    np.testing.assert_allclose(auto.params, jax_run.params, rtol=0, atol=1e-10)
    parent = sl.minimize(problem, method=sl.heavy_ball(0.9), **settings)
    assert parent.engine == "native" and np.max(np.abs(parent.params - auto.params)) > 1e-3   # really another update
    with pytest.raises(ValueError, match="got 'native', but the method is heavy ball"):
        sl.minimize(problem, method=DampedHeavyBall(0.9), engine="native", **settings)
    check = sl.check_step(problem, 0.02, sl.shuffled_cyclic(4), method=DampedHeavyBall(0.9))
    assert check.theorem is None and "no theorem known" in check.verdict and "Polyak" not in check.verdict


def test_a_least_squares_subclass_with_another_loss_is_run_as_itself():
    X, y = _regression()
    problem = AbsoluteLeastSquares(X, y)
    settings = dict(sampler=sl.shuffled_cyclic(4), step=0.02, epochs=2)
    auto = sl.minimize(problem, **settings)
    jax_run = sl.minimize(problem, engine="jax", **settings)
    assert auto.engine == "jax"
    np.testing.assert_allclose(auto.params, jax_run.params, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="AbsoluteLeastSquares is not a built-in linear model"):
        sl.minimize(problem, engine="native", **settings)
    # least squares' closed forms are not its: no L, θ*, p*, μ; the theory estimates L by power iteration
    assert problem.lipschitz() is None and problem.solution() is None and problem.optimal_value() is None
    assert problem.strong_convexity() is None and problem.lipschitz_each() is None
    assert sl.theory.lipschitz(problem).method != "closed form" and auto.history.gap.isna().all()
    assert check_problem(problem).check().ok
    sgd = sl.check_step(problem, 0.01, sl.with_replacement(1))
    assert sgd.theorem is None and "Gower" not in sgd.verdict
    assert sl.theory.bound(problem, sl.with_replacement(1), 0.01, epochs=2).empty
    with pytest.raises(ValueError, match="problem must be a least-squares problem"):
        sl.theory.expected_history(problem, sl.with_replacement(1), 0.01, epochs=1)
    parent = sl.least_squares(X, y)
    assert sl.check_step(parent, 0.01, sl.with_replacement(1)).theorem is not None   # the parent keeps its own


@dataclasses.dataclass(frozen=True, repr=False)
class BackwardsCyclic(sl.samplers.Cyclic):
    """Cyclic blocks in reverse order: another law of the batches under the parent's name."""

    def order(self, n, seed, epoch):
        return np.arange(n, dtype=np.int32)[::-1].copy()


def test_a_cyclic_subclass_gets_neither_the_shuffled_theorem_nor_the_exact_cyclic_curve():
    X, y = _regression(n=6, p=2)
    problem = sl.logistic_regression(X, (y > y.mean()).astype(int), l2=0.5)
    check = sl.check_step(problem, 0.05, BackwardsCyclic(2))
    assert check.theorem is None and "no theorem known" in check.verdict
    assert sl.check_step(problem, 0.05, sl.cyclic(2)).theorem is not None
    squares = sl.least_squares(X, y)
    with pytest.raises(ValueError, match="sampler must be full_batch, with_replacement"):
        sl.theory.expected_history(squares, BackwardsCyclic(2), 0.05, epochs=1)
    assert not sl.theory.expected_history(squares, sl.cyclic(2), 0.05, epochs=1).empty


#: For each parameter of a registered family, a value other than its default (by name; a number's default + 1).
OTHER_VALUES = {"l2": 0.5, "hidden": (3,), "task": "regression", "seed": 1, "classes": [0, 1, 2],
                "sample_weight": "ramp", "class_weight": "balanced", "loss": "geman_mcclure"}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_registered_family_is_fingerprinted_by_each_argument(family):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.arange(30) % 2
    factory = FAMILIES[family]
    base = factory(X, y)
    for name, parameter in FAMILIES.parameters(family).items():
        default = parameter.default
        other = OTHER_VALUES.get(name, default + 1 if isinstance(default, int | float) else None)
        assert other is not None, f"give {family}'s parameter {name} a value in OTHER_VALUES"
        other = np.linspace(1.0, 2.0, 30) if isinstance(other, str) and other == "ramp" else other
        if name == "task":
            changed = factory(X, y.astype(float), task=other)
            base_of_task = factory(X, y.astype(float))
            assert problem_fingerprint(changed) != problem_fingerprint(base_of_task), (family, name)
            continue
        changed = factory(X, y, **{name: other})
        assert problem_fingerprint(changed) != problem_fingerprint(base), (family, name)
