"""Sample weights of least squares: F = Σ wᵢ fᵢ / Σ wᵢ, integer weights as repeated rows, run by both engines."""

import jax
import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl

N, P = 30, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P))
    return X, X @ rng.normal(size=P) + 0.3 * rng.normal(size=N), rng.integers(0, 4, size=N)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_integer_weights_are_repeated_rows(sparse):
    # Every row i repeated wᵢ times (0 drops it): F, ∇F at a random θ, θ*, p*, L and μ agree to 1e-10.
    X, y, counts = _data()
    weighted = sl.least_squares(scipy.sparse.csr_matrix(X) if sparse else X, y, sample_weight=counts)
    rows = np.repeat(np.arange(N), counts)
    repeated = sl.least_squares(X[rows], y[rows])
    theta = np.random.default_rng(1).normal(size=P)
    assert float(weighted.loss(theta)) == pytest.approx(float(repeated.loss(theta)), rel=1e-10)
    np.testing.assert_allclose(weighted.grad(theta), repeated.grad(theta), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.solution(), repeated.solution(), rtol=1e-10, atol=1e-12)
    assert weighted.optimal_value() == pytest.approx(repeated.optimal_value(), rel=1e-10)
    assert weighted.lipschitz() == pytest.approx(repeated.lipschitz(), rel=1e-10)
    assert weighted.strong_convexity() == pytest.approx(repeated.strong_convexity(), rel=1e-10)
    np.testing.assert_array_equal(weighted.sample_weight, counts)


def test_the_weighted_mean_is_the_formula_and_per_example_constants_scale():
    X, y, _ = _data(2)
    w = np.random.default_rng(3).uniform(0.1, 3.0, size=N)
    problem = sl.least_squares(X, y, sample_weight=w)
    theta = np.ones(P)
    assert float(problem.loss(theta)) == pytest.approx(np.sum(w * 0.5 * (X @ theta - y) ** 2) / w.sum(), rel=1e-12)
    np.testing.assert_allclose(problem.lipschitz_each(), N * w / w.sum() * np.sum(X**2, axis=1), rtol=1e-12)


def test_both_engines_run_a_weighted_problem_alike():
    X, y, counts = _data(4)
    problem = sl.least_squares(X, y, sample_weight=counts + 0.5)
    runs = [sl.minimize(problem, sl.shuffled_cyclic(4), step=0.1 / problem.lipschitz_max(), epochs=3, seed=2, engine=engine)
            for engine in ("native", "jax")]
    np.testing.assert_allclose(runs[0].params, runs[1].params, rtol=0, atol=1e-10)
    assert runs[0].history.gap.iloc[-1] < runs[0].history.gap.iloc[0]


@pytest.mark.parametrize(("weights", "message"), [
    (np.ones(N - 1), "sample_weight must be N = 30 numbers, one a row; got 29"),
    (-np.ones(N), "sample_weight must be nonnegative finite numbers; got 30 negative, NaN or infinite of 30"),
    (np.zeros(N), r"sample_weight must be numbers not all 0 \(at least one example must count\)"),
])
def test_bad_sample_weights_are_refused_naming_the_parameter(weights, message):
    X, y, _ = _data()
    with pytest.raises(ValueError, match=message):
        sl.least_squares(X, y, sample_weight=weights)


# Classifiers: the weight multiplies each example's loss, not the ℓ2 penalty (fᵢ = cᵢ ℓᵢ + (λ/2)‖θ‖², cᵢ = N wᵢ/Σw).

def _labelled(seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, P))
    labels = np.argmax(X @ rng.normal(size=(P, classes)) + rng.normal(size=(N, classes)), axis=1)
    return X, labels, rng.integers(0, 4, size=N)


CLASSIFIERS = {"logistic": (sl.logistic_regression, 2), "softmax": (sl.softmax_regression, 3)}


@pytest.mark.parametrize("family", CLASSIFIERS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_classifier_integer_weights_are_repeated_rows(family, sparse):
    # F, ∇F, L (Xᵀ diag(c) X), θ* and p* of the weighted problem are those of each row repeated wᵢ times, to 1e-10.
    build, classes = CLASSIFIERS[family]
    X, labels, counts = _labelled(classes=classes)
    weighted = build(scipy.sparse.csr_matrix(X) if sparse else X, labels, l2=0.1, sample_weight=counts)
    rows = np.repeat(np.arange(N), counts)
    repeated = build(X[rows], labels[rows], l2=0.1)
    theta = np.random.default_rng(1).normal(size=weighted.params0.shape)
    assert float(weighted.loss(theta)) == pytest.approx(float(repeated.loss(theta)), rel=1e-10)
    np.testing.assert_allclose(weighted.grad(theta), repeated.grad(theta), rtol=1e-10, atol=1e-12)
    assert weighted.lipschitz() == pytest.approx(repeated.lipschitz(), rel=1e-10)
    if family == "logistic":
        np.testing.assert_allclose(weighted.solution(), repeated.solution(), rtol=1e-10, atol=1e-12)
        assert weighted.optimal_value() == pytest.approx(repeated.optimal_value(), rel=1e-10)


def test_logistic_balanced_class_weight_matches_scikit_learn():
    # scikit-learn minimizes C Σ k_{yᵢ} ℓᵢ + ½‖θ‖², ours Σ k_{yᵢ} ℓᵢ / Σk + (λ/2)‖θ‖²: the same θ* for C = 1/(λ Σk).
    sklearn = pytest.importorskip("sklearn.linear_model")
    from sklearn.utils.class_weight import compute_class_weight

    X, labels, _ = _labelled(5)
    labels = (X[:, 0] > 0.6).astype(int)   # unbalanced: about a quarter positive
    problem = sl.logistic_regression(X, labels, l2=0.05, class_weight="balanced")
    factors = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
    np.testing.assert_allclose(problem.sample_weight, factors[labels], rtol=1e-14)
    model = sklearn.LogisticRegression(C=1 / (0.05 * problem.sample_weight.sum()), fit_intercept=False,
                                       class_weight="balanced", tol=1e-12, max_iter=10_000).fit(X, labels)
    np.testing.assert_allclose(problem.solution(), model.coef_[0], rtol=1e-6, atol=1e-8)


def test_softmax_weighted_minimizer_matches_scikit_learn():
    # Softmax has no closed-form θ*: scipy's L-BFGS on our F and ∇F against scikit-learn's multinomial fit.
    sklearn = pytest.importorskip("sklearn.linear_model")
    import scipy.optimize

    X, labels, _ = _labelled(6, classes=3)
    weights = np.random.default_rng(7).uniform(0.2, 2.0, size=N)
    problem = sl.softmax_regression(X, labels, l2=0.1, sample_weight=weights, class_weight={0: 3.0})
    shape = problem.params0.shape
    found = scipy.optimize.minimize(lambda w: float(problem.loss(w.reshape(shape))), np.zeros(P * 3),
                                    jac=lambda w: np.asarray(problem.grad(w.reshape(shape))).ravel(),
                                    method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
    total = float(np.sum(weights * np.where(labels == 0, 3.0, 1.0)))
    model = sklearn.LogisticRegression(C=1 / (0.1 * total), fit_intercept=False, class_weight={0: 3.0},
                                       tol=1e-12, max_iter=10_000).fit(X, labels, sample_weight=weights)
    np.testing.assert_allclose(found.x.reshape(shape), model.coef_.T, rtol=1e-5, atol=1e-6)


def test_weighted_classifier_steps_weigh_the_loss_not_the_penalty():
    # Plain SGD at B = 1, by hand in NumPy: θ ← θ − α (cᵢ ∇ℓᵢ(θ) + λθ), cᵢ = N wᵢ/Σw, the order from the sampler.
    X, labels, counts = _labelled(8)
    weights = counts + 0.25
    problem = sl.logistic_regression(X, labels, l2=0.2, sample_weight=weights)
    sampler, alpha, signs = sl.shuffled_cyclic(1), 0.3, np.where(labels == 1, 1.0, -1.0)
    run = sl.minimize(problem, sampler, step=alpha, epochs=2, seed=3)
    theta, c = np.zeros(P), N * weights / weights.sum()
    for epoch in range(2):
        for (i,) in sampler.batches(N, epoch=epoch, seed=3):
            derivative = -signs[i] / (1.0 + np.exp(signs[i] * X[i] @ theta))
            theta = theta - alpha * (c[i] * derivative * X[i] + 0.2 * theta)
    np.testing.assert_allclose(run.params, theta, rtol=0, atol=1e-12)


def test_weighted_classifiers_run_on_jax_and_the_native_engine_says_why_not():
    X, labels, counts = _labelled()
    problem = sl.logistic_regression(X, labels, sample_weight=counts + 1)
    assert sl.minimize(problem, sl.shuffled_cyclic(4), step=0.1, epochs=1).status == "max_epochs"
    with pytest.raises(ValueError, match="the classifier's losses are weighted"):
        sl.minimize(problem, sl.shuffled_cyclic(4), step=0.1, epochs=1, engine="native")


@pytest.mark.parametrize(("options", "message"), [
    ({"class_weight": "balance"}, "class_weight must be 'balanced' or a dict from class label to weight; got 'balance'"),
    ({"class_weight": {7: 2.0}}, r"class_weight must be weights of labels among \[0, 1\]; got labels \[7\]"),
    ({"class_weight": {1: -1.0}}, "class_weight must be nonnegative finite weights"),
    ({"sample_weight": np.ones(3)}, "sample_weight must be N = 30 numbers, one a row; got 3"),
    ({"sample_weight": np.full(N, np.nan)}, "sample_weight must be nonnegative finite numbers"),
])
def test_bad_classifier_weights_are_refused_naming_the_parameter(options, message):
    X, labels, _ = _labelled()
    with pytest.raises(ValueError, match=message):
        sl.logistic_regression(X, labels, **options)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_network_integer_weights_are_repeated_rows(task):
    # A ReLU network's F and ∇F (every layer) with integer weights equal those of the rows repeated, to 1e-10; θ⁰
    # (He initialization from the seed and the widths) is the same for both.
    X, labels, counts = _labelled(9, classes=3)
    y = labels if task == "classification" else X @ np.ones(P)
    weighted = sl.mlp(X, y, hidden=(5,), task=task, sample_weight=counts)
    rows = np.repeat(np.arange(N), counts)
    repeated = sl.mlp(X[rows], y[rows], hidden=(5,), task=task)
    assert float(weighted.loss(weighted.params0)) == pytest.approx(float(repeated.loss(repeated.params0)), rel=1e-10)
    for mine, theirs in zip(jax.tree.leaves(weighted.grad(weighted.params0)),
                            jax.tree.leaves(repeated.grad(repeated.params0)), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_a_weighted_network_runs_on_jax_and_balanced_classes_match_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    X, labels, _ = _labelled(10, classes=3)
    network = sl.mlp(X, labels, hidden=(4,), class_weight="balanced")
    np.testing.assert_allclose(network.sample_weight,
                               compute_class_weight("balanced", classes=np.arange(3), y=labels)[labels], rtol=1e-14)
    run = sl.minimize(network, sl.shuffled_cyclic(1), step=0.05, epochs=2)
    assert run.engine == "jax" and run.history.loss.iloc[-1] < run.history.loss.iloc[0]
    with pytest.raises(ValueError, match="the network's losses are weighted"):
        sl.minimize(network, sl.shuffled_cyclic(1), step=0.05, epochs=1, engine="native")
    with pytest.raises(ValueError, match="class_weight must be left out for regression"):
        sl.mlp(X, X[:, 0], task="regression", class_weight="balanced")


def test_curve_fit_integer_weights_are_repeated_points():
    x = np.linspace(-1.0, 1.0, N)
    y = np.sin(3 * x) + 0.1 * np.random.default_rng(11).normal(size=N)
    counts = np.random.default_rng(12).integers(0, 4, size=N)
    weighted = sl.curve_fit(x, y, sl.polynomial(3), sample_weight=counts)
    rows = np.repeat(np.arange(N), counts)
    repeated = sl.curve_fit(x[rows], y[rows], sl.polynomial(3))
    np.testing.assert_allclose(weighted.solution(), repeated.solution(), rtol=1e-10, atol=1e-12)
    assert weighted.optimal_value() == pytest.approx(repeated.optimal_value(), rel=1e-10)
    np.testing.assert_allclose(weighted.predict(weighted.solution(), [0.5]), repeated.predict(repeated.solution(), [0.5]),
                               rtol=1e-10)
