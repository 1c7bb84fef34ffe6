"""Bad input: each raises a clear error naming the parameter, what is allowed and what was given."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse

import sgdlab as sl

rng = np.random.default_rng(0)
X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
X_nan = X.copy()
X_nan[2, 1] = np.nan
y_inf = y.copy()
y_inf[5] = np.inf
problem = sl.least_squares(X, y)

CASES = [
    # (what, call, error type, text the message must contain)
    ("X, y lengths", lambda: sl.least_squares(X, y[:10]), ValueError, "X and y must be of the same length"),
    ("NaN in X", lambda: sl.least_squares(X_nan, y), ValueError, "X must be finite (no NaN or inf); got nan at index (2, 1)"),
    ("inf in y", lambda: sl.logistic_regression(X, y_inf), ValueError, "y must be finite (no NaN or inf); got inf at index (5,)"),
    ("empty X", lambda: sl.least_squares(np.empty((0, 3)), np.empty(0)), ValueError, "X must be non-empty"),
    ("1-D X", lambda: sl.least_squares(y, y), ValueError, "X must be a 2-D array; got a 1-D array"),
    ("text X", lambda: sl.least_squares(np.array([["a"]]), [1.0]), TypeError, "X must be an array of numbers"),
    ("complex X", lambda: sl.least_squares(X + 1j, y), TypeError,
     "X must be an array of real numbers; got complex values (dtype complex128)"),
    ("complex y", lambda: sl.least_squares(X, y + 0j), TypeError,
     "y must be an array of real numbers; got complex values (dtype complex128)"),
    ("complex sparse X", lambda: sl.logistic_regression(scipy.sparse.csr_matrix(X + 1j), y > 0), TypeError,
     "X must be a sparse matrix of real numbers; got dtype complex128"),
    ("complex data", lambda: sl.finite_sum(lambda p, e: p * e, np.ones(3) * 1j, 0.0), TypeError,
     "data must be an array of real numbers; got complex values"),
    ("X whose squares overflow", lambda: sl.least_squares(X * 1e155, y), ValueError,
     "X must be scaled to entries of at most 3.87e+151 in magnitude for 12 rows in float64 (so that sums of their "
     "squares stay finite); got max |X| = 2.33e+155"),
    ("sparse X whose squares overflow", lambda: sl.logistic_regression(scipy.sparse.csr_matrix(X * 1e155), y > 0),
     ValueError, "X must be scaled to entries of at most 3.87e+151"),
    ("y whose squares overflow", lambda: sl.least_squares(X, y * 1e160), ValueError,
     "y must be scaled to entries of at most 3.87e+151"),
    ("network with the default step", lambda: sl.compare(sl.mlp(X, y > 0, hidden=4), {"a": dict(sampler=sl.cyclic(4))},
                                                          seeds=1, epochs=1), ValueError,
     "step must be given as a number or a schedule for MLP, whose L_B and L_max are not known"),
    ("empty finite sum", lambda: sl.finite_sum(lambda p, e: p * e, np.empty(0), 0.0), ValueError, "data must be non-empty"),
    ("ragged finite sum", lambda: sl.finite_sum(lambda p, e: p, (np.ones(3), np.ones(4)), 0.0), ValueError,
     "data must be arrays sharing one leading length N; got leading lengths [3, 4]"),
    ("vector loss", lambda: sl.finite_sum(lambda p, e: p * e, np.ones((4, 2)), np.zeros(2)), ValueError,
     "loss must be a function returning a scalar"),
    ("logistic labels", lambda: sl.logistic_regression(X, np.arange(12) % 3), ValueError,
     "y must be labels coded {0, 1}, {-1, 1} or two other values (the larger is the positive class) for logistic_regression; got values [0, 1, 2]"),
    ("one class", lambda: sl.softmax_regression(X, np.zeros(12)), ValueError, "y must be labels of at least 2 classes"),
    ("negative l2", lambda: sl.logistic_regression(X, y > 0, l2=-1.0), ValueError, "l2 must be a finite number >= 0; got -1.0"),
    ("batch_size 0", lambda: sl.shuffled_cyclic(0), ValueError, "batch_size must be an integer >= 1 for shuffled_cyclic; got 0"),
    ("batch_size float", lambda: sl.with_replacement(2.5), TypeError, "batch_size must be an integer >= 1 for with_replacement; got 2.5"),
    ("batch_size > N", lambda: sl.minimize(problem, sampler=sl.without_replacement(1000), step=0.1), ValueError,
     "batch_size must be an integer in [1, 12] for without_replacement (N=12); got 1000"),
    ("drop_last everything", lambda: sl.minimize(problem, sampler=sl.cyclic(13, drop_last=True), step=0.1), ValueError,
     "batch_size must be an integer in [1, 12] for cyclic with drop_last=True (N=12); got 13"),
    ("drop_last type", lambda: sl.cyclic(2, drop_last="yes"), TypeError, "drop_last must be True or False for cyclic; got 'yes'"),
    ("step 0", lambda: sl.minimize(problem, step=0.0), ValueError, "step must be a positive finite number; got 0.0"),
    ("step < 0", lambda: sl.minimize(problem, step=-0.1), ValueError, "step must be a positive finite number; got -0.1"),
    ("step NaN", lambda: sl.minimize(problem, step=float("nan")), ValueError, "step must be a positive finite number; got nan"),
    ("step text", lambda: sl.minimize(problem, step="fast"), TypeError, "step must be a positive number, a schedule"),
    ("schedule hits 0", lambda: sl.minimize(problem, sampler=sl.cyclic(1), step=sl.cosine(0.1, total=5), epochs=1),
     ValueError, "step must be a schedule with alpha_k > 0 and finite at every iteration; "
     "got cosine from 0.1 to 0 over 5 iterations giving alpha_k = 0 at k = 5"),
    ("schedule < 0", lambda: sl.minimize(problem, step=lambda k: 0.1 - 0.01 * k, sampler=sl.cyclic(1), epochs=1), ValueError,
     "alpha_k = -0.01 at k = 11"),
    ("schedule args", lambda: sl.inverse_time(0.1, -1.0), ValueError, "decay must be a finite number >= 0 for inverse_time; got -1.0"),
    ("step_decay factor", lambda: sl.step_decay(0.1, 1.5, 10), ValueError, "factor must be a number in (0, 1) for step_decay; got 1.5"),
    ("epochs 0", lambda: sl.minimize(problem, step=0.1, epochs=0), ValueError, "epochs must be an integer >= 1; got 0"),
    ("epochs float", lambda: sl.minimize(problem, step=0.1, epochs=2.0), TypeError, "epochs must be an integer >= 1; got 2.0"),
    ("seed < 0", lambda: sl.minimize(problem, step=0.1, seed=-1), ValueError, "seed must be an integer in [0, 2147483647]; got -1"),
    ("tol 0", lambda: sl.minimize(problem, step=0.1, tol=0), ValueError, "tol must be a positive finite number; got 0.0"),
    ("record_every 0", lambda: sl.minimize(problem, step=0.1, record_every=0), ValueError, "record_every must be a positive number: a whole number of epochs, or 1/m of one (0.5, 0.25, 0.2, 0.1, …); got 0"),
    ("unknown sampler name", lambda: sl.minimize(problem, sampler="random", step=0.1), ValueError,
     "sampler must be one of full_batch, iid, with_replacement, without_replacement, cyclic, shuffled_cyclic, shuffle_once, flip_flop, shuffled_chunks, grab, importance, importance_shuffled; got 'random'"),
    ("sampler object", lambda: sl.minimize(problem, sampler=42, step=0.1), TypeError, "sampler must be a sampler such as sl.shuffled_cyclic(32)"),
    ("problem object", lambda: sl.minimize("least squares", step=0.1), TypeError, "problem must be a finite sum such as sl.least_squares(X, y) or an sl.expectation(...); got 'least squares'"),
    ("unknown minimize argument", lambda: sl.minimize(problem, step=0.1, smapler=sl.cyclic()), TypeError,
     "unexpected keyword argument 'smapler'"),
    ("unknown sampler argument", lambda: sl.shuffled_cyclic(8, shuffle=True), TypeError, "unexpected keyword argument 'shuffle'"),
    ("unknown problem argument", lambda: sl.least_squares(X, y, l2=0.1), TypeError, "unexpected keyword argument 'l2'"),
    ("params0 shape", lambda: sl.minimize(problem, step=0.1, params0=np.zeros(4)), ValueError,
     "params0 must be of shape (3,) (the problem's parameter shape); got shape (4,)"),
    ("params0 structure", lambda: sl.minimize(problem, step=0.1, params0={"w": np.zeros(3)}), ValueError,
     "params0 must be a pytree of structure"),
    ("params0 NaN", lambda: sl.minimize(problem, step=0.1, params0=np.array([0.0, np.nan, 0.0])), ValueError,
     "params0 must be finite"),
    ("batch_grad indices", lambda: problem.batch_grad(np.zeros(3), [0, 12]), ValueError,
     "idx must be indices in [0, 11]; got indices from 0 to 12"),
    ("batches epoch", lambda: sl.cyclic(2).batches(10, epoch=-1), ValueError, "epoch must be an integer >= 0; got -1"),
    ("executor object", lambda: sl.compare(problem, {"a": dict(sampler=sl.cyclic(4), step=0.1)}, seeds=1, epochs=1, executor=42),
     TypeError, "executor must be None or a concurrent.futures.Executor (a ProcessPoolExecutor started with the spawn method, or distributed.Client(...).get_executor()); got 42."),
    ("study executor", lambda: sl.study({"a": problem}, {"a": dict(sampler=sl.cyclic(4), step=0.1)}, seeds=1, epochs=1, executor="dask"),
     TypeError, "executor must be None or a concurrent.futures.Executor"),
    ("importance weights text", lambda: sl.importance(1, weights=["a"] * 12), ValueError,
     "weights must be 'lipschitz' or N nonnegative numbers; got ['a', 'a'"),
    ("step_sweep ratios empty", lambda: sl.step_sweep(problem, [sl.cyclic(4)], ratios=[]), ValueError,
     "ratios must be a non-empty list of positive numbers α·L; got an empty list."),
    ("step_sweep ratios number", lambda: sl.step_sweep(problem, [sl.cyclic(4)], ratios=2.0), TypeError,
     "ratios must be a non-empty list of positive numbers α·L; got 2.0."),
    ("average starts after the run", lambda: sl.minimize(problem, sl.cyclic(4), step=0.01, epochs=5, average=sl.polyak_average(start=100)),
     ValueError, "average must be a Polyak average that starts before the run ends (start < 5 epochs here); got Polyak–Ruppert average from epoch 100 for a run of 15 steps."),
    ("integer params0", lambda: sl.finite_sum(lambda t, e: (t - e) ** 2, np.ones(5), np.array(1)), TypeError,
     "params0 must be floating-point leaves (gradients move θ; nothing is cast: write 1.0 or np.zeros(p), and hold integer state outside θ, e.g. a Flax nnx.Variable, not an nnx.Param); got a leaf of dtype int64 at position 0."),
    ("sparse X for a network", lambda: sl.mlp(scipy.sparse.csr_matrix(X), y > 0), TypeError,
     "X must be a dense array for mlp (its layers read dense rows); got a sparse 12 × 3 matrix (X.toarray() would take 0 MiB)."),
    ("boolean params0 leaf", lambda: sl.finite_sum(lambda t, e: (t["w"] - e) ** 2, np.ones(5), {"on": True, "w": 0.0}), TypeError,
     "params0 must be floating-point leaves"),
]


@pytest.mark.parametrize("call, error, text", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_clear_message(call, error, text):
    with pytest.raises(error, match=re.escape(text)):
        call()


def test_step_is_required_when_L_is_unknown():
    custom = sl.finite_sum(lambda p, e: (p - e) ** 2, np.arange(5.0), 0.0)
    with pytest.raises(ValueError, match=re.escape("step must be given for a problem whose L is not known")):
        sl.minimize(custom)


CLI_CASES = [
    # (arguments, the one line it must print); each ends with exit code 2
    (["run", "exp.toml", "--scheduler", "not a url"], "sgdlab: error: Invalid value for --scheduler: expected a Dask scheduler's address, tcp://HOST:PORT; got 'not a url' (missing port number"),
    (["run", "exp.toml", "--scheduler", "http://127.0.0.1:8786"], "expected a Dask scheduler's address, tcp://HOST:PORT; got 'http://127.0.0.1:8786' (unknown address scheme 'http'"),
    (["run", "exp.toml", "--scheduler", ""], "expected a Dask scheduler's address, tcp://HOST:PORT; got ''"),
    (["batch-size", "--sampler", "full_batch"], "sgdlab: error: sampler must be a sampler that takes a batch size, one of iid, with_replacement"),
]


@pytest.mark.parametrize("args, text", CLI_CASES, ids=[" ".join(args) for args, _ in CLI_CASES])
def test_bad_command_lines_end_with_one_line_and_exit_code_2(args, text, tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "exp.toml").write_text('[compare]\nepochs = 1\nseeds = 1\n\n[runs.a]\nsampler = "cyclic"\nbatch_size = 8\n')
    result = subprocess.run([sys.executable, "-m", "sgdlab.experiments.cli", *args], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert text in result.stderr


#: Runs main(argv) with an audit hook, and prints whether the data file was opened.
OPENED_PROBE = """
import json, sys
data, opened = sys.argv[1], []
sys.addaudithook(lambda event, args: opened.append(args[0]) if event == "open" and args and args[0] == data else None)
from sgdlab.experiments.cli import main
code = main(sys.argv[2:])
print(json.dumps({"code": code, "opened": len(opened), "jax": "jax" in sys.modules}))
"""

STUDY = '''[[problems]]
name = "a"
kind = "{kind}"
data = "data.csv"

[compare]
epochs = 1

[runs.a]
sampler = "cyclic"
batch_size = 4
{step}
'''

EARLY_CASES = [
    # (arguments, the message): each refused before the data file is opened or JAX is imported
    (["compare", "--data", "data.csv", "--step", "1/Lb"], "step must be a number, or text 'c/L', 'c/L_B' or 'c/L_max'"),
    (["compare", "--data", "data.csv", "--problem", "mlp"], "step must be given as a number or a schedule for MLP"),
    (["compare", "--data", "data.csv", "--schemes", "zigzag"], "'zigzag' is not one of full_batch"),
    (["compare", "--data", "data.csv", "--methods", "momentum"], "--methods must be plain, heavy_ball:beta"),
    (["compare", "--data", "data.csv", "--methods", "heavy_ball:beta=2"], "beta"),
    (["compare", "--data", "diabetis"], "data must be a bundled name (diabetes, breast_cancer, digits, synthetic) or an existing file; got 'diabetis'."),
    (["run", "bad-step.toml"], "[[problems]] 'a': step must be a number, or text"),
    (["run", "network.toml"], "[[problems]] 'a': step must be given as a number or a schedule for MLP"),
]


@pytest.mark.parametrize("args, text", EARLY_CASES, ids=[" ".join(args) for args, _ in EARLY_CASES])
def test_command_line_mistakes_are_refused_before_the_data_is_read_or_jax_imported(args, text, tmp_path):
    rng = np.random.default_rng(1)
    np.savetxt(tmp_path / "data.csv", np.c_[rng.normal(size=(20, 3)), np.arange(20) % 2], delimiter=",",
               header="a,b,c,label", comments="")
    (tmp_path / "bad-step.toml").write_text(STUDY.format(kind="least_squares", step='step = "1/Lb"'))
    (tmp_path / "network.toml").write_text(STUDY.format(kind="mlp", step=""))
    result = subprocess.run([sys.executable, "-c", OPENED_PROBE, str(tmp_path / "data.csv"), *args],
                            capture_output=True, text=True, cwd=tmp_path)
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"code": 2, "opened": 0, "jax": False}, result.stderr
    assert text in result.stderr and result.stderr.count("\n") == 1, result.stderr
