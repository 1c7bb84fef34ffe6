"""Early stopping (sl.patience): on problems built to overfit it stops near the minimum of the recorded
test loss and returns θ there; on a maximized column, on resume and on bad input it behaves as documented."""

import re

import numpy as np
import pytest

import sgdlab as sl


@pytest.fixture(scope="module")
def overfit():
    """Least squares with p close to N: 60 rows, 50 features, only 3 of which matter, and noise. SGD first
    fits the signal (the test loss falls), then the noise (it rises again)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(560, 50))
    y = X[:, :3] @ np.ones(3) + rng.normal(size=560)
    train = sl.least_squares(X[:60], y[:60])
    return train, train.with_data(X[60:], y[60:])


def test_stops_within_one_row_of_the_test_minimum_and_returns_its_theta(overfit):
    train, test = overfit
    full = sl.minimize(train, sl.shuffled_cyclic(4), step=0.02, epochs=150, heldout={"test": test},
                       record_params=True)
    best_row = int(full.history.test_loss.idxmin())
    assert 0 < best_row < 100   # the test loss has an interior minimum: the problem overfits
    stopped = sl.minimize(train, sl.shuffled_cyclic(4), step=0.02, epochs=150, heldout={"test": test},
                          stop=sl.patience(on="test_loss", epochs=10))
    assert stopped.status == "stopped_early"
    recorded_min = int(stopped.history.test_loss.idxmin())
    assert abs(recorded_min - best_row) <= 1 and stopped.epochs == recorded_min + 10
    np.testing.assert_array_equal(stopped.best_params, full.path[recorded_min])
    # the native rows sum in the order the CPU's vector width gives (AVX2 and AVX-512 differ in the last bit)
    assert float(test.loss(stopped.best_params)) == pytest.approx(stopped.history.test_loss.min(), rel=1e-13)
    assert stopped.message == (f"stopped early at epoch {recorded_min + 10}: test_loss has not improved for 10 "
                               f"epochs; its best, {stopped.history.test_loss.min():.6g}, was at epoch "
                               f"{recorded_min} (Result.best_params).")


def test_a_wide_network_on_200_digits_stops_on_test_accuracy():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    (X_train, y_train), (X_test, y_test) = sl.data.split(X[:400] / 16, y[:400], fractions=(0.5, 0.5), seed=0)
    train = sl.mlp(X_train, y_train, hidden=(256,), seed=0)
    result = sl.minimize(train, sl.shuffled_cyclic(8), step=0.1, epochs=60, heldout={"test": train.with_data(
        X_test, y_test)}, stop=sl.patience(on="test_accuracy", epochs=5))
    history = result.history
    assert result.status == "stopped_early" and history.accuracy.iloc[-1] == 1.0   # it fits its 200 rows
    best = history.test_accuracy.max()
    assert history.test_accuracy.iloc[-5:].max() <= best and int(history.test_accuracy.idxmax()) == result.epochs - 5
    assert train.accuracy(result.best_params, X_test, y_test) == best


def test_min_delta_and_a_resumed_run(overfit, tmp_path):
    train, test = overfit
    rule = sl.patience(on="test_loss", epochs=4, min_delta=0.01)
    whole = sl.minimize(train, sl.shuffled_cyclic(4), step=0.02, epochs=80, heldout={"test": test}, stop=rule)
    losses = whole.history.test_loss.to_numpy()
    best = 0
    for epoch in range(1, len(losses)):   # the rule written out: improvements by more than min_delta
        if losses[epoch] < losses[best] - 0.01:
            best = epoch
    assert whole.epochs == best + 4
    path = tmp_path / "run.npz"
    sl.minimize(train, sl.shuffled_cyclic(4), step=0.02, epochs=best + 1, heldout={"test": test}, stop=rule,
                checkpoint=path)
    resumed = sl.minimize(train, sl.shuffled_cyclic(4), step=0.02, epochs=80, heldout={"test": test}, stop=rule,
                          checkpoint=path, resume=True)
    assert resumed.status == "stopped_early" and resumed.message == whole.message
    np.testing.assert_array_equal(resumed.best_params, whole.best_params)


def test_patience_on_the_training_loss_of_a_maximized_problem():
    concave = sl.finite_sum(lambda theta, c: -(theta - c) ** 2, np.array([1.0, 3.0]), 0.0)
    result = sl.maximize(concave, step=0.25, epochs=200, stop=sl.patience(on="loss", epochs=3, min_delta=1e-6))
    assert result.status == "stopped_early" and result.epochs < 30
    best_row = result.epochs - 3   # the last to improve on its predecessor's best by more than min_delta
    assert float(concave.loss(result.best_params)) == result.history.loss[best_row]
    assert float(result.best_params) == pytest.approx(2.0, abs=1e-2)


def test_without_a_rule_there_are_no_best_params(overfit):
    assert sl.minimize(overfit[0], step=0.01, epochs=2).best_params is None


@pytest.mark.parametrize(("stop", "error", "text"), [
    (sl.patience(on="test_accuracy"), ValueError, "on must be a column this run records: loss, grad_norm, gap, dist, "
     "test_loss for patience; got 'test_accuracy'"),
    ("test_loss", TypeError, "stop must be None or a rule such as sl.patience(on='test_loss', epochs=5)"),
])
def test_bad_stop(overfit, stop, error, text):
    train, test = overfit
    with pytest.raises(error, match=re.escape(text)):
        sl.minimize(train, step=0.01, heldout={"test": test}, stop=stop)


@pytest.mark.parametrize(("call", "text"), [
    (lambda: sl.patience(on="loss", epochs=0), "epochs must be an integer >= 1 for patience; got 0"),
    (lambda: sl.patience(on="loss", min_delta=-1), "min_delta must be a finite number >= 0 for patience; got -1"),
    (lambda: sl.patience(on=""), "on must be the name of a history column, e.g. 'test_loss' for patience; got ''"),
])
def test_bad_patience(call, text):
    with pytest.raises((ValueError, TypeError), match=re.escape(text)):
        call()
