"""Held-out data scored beside the training metrics: checked against scikit-learn's accuracy_score and
the held-out problem's own loss, at every recorded row, on both engines."""

import re

import numpy as np
import pytest
import scipy.sparse
from sklearn.metrics import accuracy_score

import sgdlab as sl


def _split(X, y, seed=0):
    return sl.data.split(X, y, fractions=(0.7, 0.3), seed=seed)


def _checked_every_row(train, test, result, X_test, y_test, classifier=True):
    history = result.history
    for row, theta in enumerate(result.path):
        assert history.test_loss[row] == pytest.approx(float(test.loss(theta)), rel=1e-12, abs=1e-14)
        if classifier:
            assert history.test_accuracy[row] == accuracy_score(y_test, train.predict(theta, X_test))


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_logistic_test_accuracy_is_sklearns_accuracy_score_at_every_row(mushrooms, engine):
    X, y = mushrooms
    (X_train, y_train), (X_test, y_test) = _split(X[:1500], y[:1500])
    train = sl.logistic_regression(X_train, y_train, l2=1e-3)
    test = train.with_data(X_test, y_test)
    result = sl.minimize(train, sl.shuffled_cyclic(16), step=0.5, epochs=3, engine=engine, record_params=True,
                         heldout={"test": test})
    assert result.engine == engine
    assert list(result.history.columns[-3:]) == ["accuracy", "test_loss", "test_accuracy"]
    _checked_every_row(train, test, result, X_test, y_test)
    for row, theta in enumerate(result.path):
        assert result.history.accuracy[row] == accuracy_score(y_train, train.predict(theta, X_train))
    assert result.history.test_accuracy.iloc[-1] > 0.9


def test_sparse_logistic_and_several_heldout_sets(w8a):
    X, y = w8a
    X = scipy.sparse.csr_matrix(X[:4000])
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = sl.data.split(X, y[:4000], fractions=(0.6, 0.2, 0.2))
    train = sl.logistic_regression(X_train, y_train)
    heldout = {"val": train.with_data(X_val, y_val), "test": train.with_data(X_test, y_test)}
    result = sl.minimize(train, sl.shuffled_cyclic(1), step=0.2, epochs=2, heldout=heldout, record_params=True)
    assert list(result.history.columns[-5:]) == ["accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"]
    theta = result.path[-1]
    assert result.history.val_accuracy.iloc[-1] == accuracy_score(y_val, train.predict(theta, X_val))
    assert result.history.test_loss.iloc[-1] == pytest.approx(float(heldout["test"].loss(theta)), rel=1e-12)


@pytest.mark.parametrize("engine", ["jax", "native"])
def test_softmax_and_network_accuracy_match_sklearn(multiclass_data, engine):
    X, y = multiclass_data
    (X_train, y_train), (X_test, y_test) = _split(X, y, seed=3)
    for train in (sl.softmax_regression(X_train, y_train, l2=0.01), sl.mlp(X_train, y_train, hidden=(6,), seed=1)):
        test = train.with_data(X_test, y_test)
        result = sl.minimize(train, sl.shuffled_cyclic(4), step=0.2, epochs=3, engine=engine, record_params=True,
                             heldout={"test": test})
        assert result.engine == engine
        _checked_every_row(train, test, result, X_test, y_test)


def test_regression_models_record_only_the_heldout_loss(regression_data):
    X, y = regression_data
    (X_train, y_train), (X_test, y_test) = _split(X, y)
    train = sl.least_squares(X_train, y_train)
    test = train.with_data(X_test, y_test)
    result = sl.minimize(train, sl.cyclic(5), step=0.05, epochs=4, heldout={"test": test}, record_params=True)
    assert "accuracy" not in result.history and "test_accuracy" not in result.history
    _checked_every_row(train, test, result, X_test, y_test, classifier=False)
    x = X[:, 0]
    fit = sl.curve_fit(x[:40], y[:40], sl.fourier(2))
    result = sl.minimize(fit, step=0.1, epochs=3, heldout={"rest": fit.with_data(x[40:], y[40:])})
    assert result.history.rest_loss.iloc[-1] == pytest.approx(float(fit.with_data(x[40:], y[40:]).loss(result.params)))


def test_a_finite_sum_takes_heldout_data_of_its_own_loss():
    def squared(theta, example):
        x, target = example
        return 0.5 * (x @ theta - target) ** 2

    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    train = sl.finite_sum(squared, (X[:20], y[:20]), np.zeros(3))
    test = sl.finite_sum(squared, (X[20:], y[20:]), np.zeros(3))
    result = sl.minimize(train, step=0.1, epochs=5, heldout={"test": test})
    assert result.history.test_loss.iloc[-1] == pytest.approx(float(test.loss(result.params)), rel=1e-12)
    other = sl.finite_sum(lambda theta, example: squared(theta, example), (X[20:], y[20:]), np.zeros(3))
    with pytest.raises(ValueError, match="another per-example loss function"):
        sl.minimize(train, step=0.1, heldout={"test": other})


def test_a_comparison_lane_scores_as_the_run_alone(classification_data):
    X, y = classification_data
    (X_train, y_train), (X_test, y_test) = _split(X, y)
    train = sl.logistic_regression(X_train, y_train)
    heldout = {"test": train.with_data(X_test, y_test)}
    table = sl.compare(train, {"rr": dict(sampler=sl.shuffled_cyclic(5), step=0.3)}, seeds=3, epochs=3,
                       heldout=heldout).table
    alone = sl.minimize(train, sl.shuffled_cyclic(5), step=0.3, epochs=3, seed=2, heldout=heldout).history
    lane = table[table.seed == 2].reset_index(drop=True)
    np.testing.assert_allclose(lane.test_loss, alone.test_loss, rtol=1e-12)
    np.testing.assert_array_equal(lane.test_accuracy, alone.test_accuracy)


def test_maximizing_reports_the_heldout_loss_in_its_own_sign(regression_data):
    _, y = regression_data
    concave = sl.finite_sum(lambda theta, c: -(theta - c) ** 2, y[:40], 0.0)
    test = sl.finite_sum(concave.defining_functions()[0], y[40:], 0.0)
    result = sl.maximize(concave, step=0.25, epochs=5, heldout={"test": test})
    assert result.history.test_loss.iloc[-1] == pytest.approx(float(test.loss(result.params)))


def test_with_data_keeps_the_model(multiclass_data):
    X, y = multiclass_data
    softmax = sl.softmax_regression(X.astype(np.float32), y, l2=0.5)
    test = softmax.with_data(X[:5], ["a"] * 5)
    assert test.classes.tolist() == ["a", "b", "c"] and test.l2 == 0.5 and test.X.dtype == np.float32
    network = sl.mlp(X, y, hidden=(3,), seed=7)
    assert np.array_equal(network.with_data(X[:4], y[:4]).params0[0]["W"], network.params0[0]["W"])


BAD = [
    ("another model", lambda train, X, y: {"test": sl.least_squares(X, y.astype(float))}, ValueError,
     "heldout['test'] must be a problem of the training problem's model, parameter shapes and label set (build it "
     "with train.with_data(X, y)); got a LeastSquares, not a LogisticRegression"),
    ("another dimension", lambda train, X, y: {"test": sl.logistic_regression(X[:, :2], y)}, ValueError,
     "got parameters float64[2], not float64[3]"),
    ("another l2", lambda train, X, y: {"test": sl.logistic_regression(X, y, l2=1.0)}, ValueError,
     "got the ℓ2 weight 1, not 0"),
    ("not a dict", lambda train, X, y: [train], TypeError,
     "heldout must be a dict of named problems, e.g. {'test': problem.with_data(X_test, y_test)}"),
    ("a bad name", lambda train, X, y: {"my test": train}, ValueError,
     "heldout must be names that are identifiers other than 'avg'"),
    ("not a problem", lambda train, X, y: {"test": (X, y)}, TypeError, "heldout['test'] must be a finite sum"),
]


@pytest.mark.parametrize(("what", "heldout", "error", "text"), BAD, ids=[case[0] for case in BAD])
def test_bad_heldout(classification_data, what, heldout, error, text):
    X, y = classification_data
    train = sl.logistic_regression(X, y)
    with pytest.raises(error, match=re.escape(text)):
        sl.minimize(train, step=0.1, epochs=1, heldout=heldout(train, X, y))


def test_another_label_set_and_columns_are_refused(multiclass_data):
    X, y = multiclass_data
    train = sl.softmax_regression(X, y)
    with pytest.raises(ValueError, match=re.escape("heldout['test'] must be a problem of the training problem's "
                                                   "model, parameter shapes and label set")):
        sl.minimize(train, step=0.1, heldout={"test": sl.softmax_regression(X, np.where(y == "a", "b", y))})
    with pytest.raises(ValueError, match=re.escape("y must be labels among the classes ['a', 'b', 'c']; got labels "
                                                   "['z'] outside them")):
        train.with_data(X[:2], ["a", "z"])
    with pytest.raises(ValueError, match=re.escape("X must be 4 columns (the training problem's features) for "
                                                   "with_data; got 3 columns")):
        train.with_data(X[:, :3], y)
