"""Compiling a linear model's native kernels ahead, in a second process: a run afterwards loads them from Numba's
cache (it compiles none of them), and the command starts the process only where it helps."""

import io
import json
import os
import subprocess
import sys

from sgdlab.engines.native import ahead
from sgdlab.experiments import cli, config

#: A run of two samplers on least squares, printing the Numba functions it compiled (cache misses only).
RUN = """
import json, numpy as np, sgdlab as sl
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
X = np.random.default_rng(0).normal(size=(64, 3))
for sampler in (sl.with_replacement(32), sl.shuffled_cyclic(1)):
    sl.minimize(sl.least_squares(X, X.sum(1)), sampler, step=0.01, epochs=2, engine="native")
print(json.dumps(compiled))
"""


def test_a_run_after_compiling_ahead_compiles_none_of_those_kernels(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}   # an empty cache of this test's own
    spec = {"loss": "squared", "sparse": False,
            "samplers": [["with_replacement", {"batch_size": 32}], ["shuffled_cyclic", {"batch_size": 1}]]}
    subprocess.run([sys.executable, "-m", "sgdlab.engines.native.ahead"], input=json.dumps(spec), text=True, env=env,
                   check=True)
    out = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True).stdout
    compiled = json.loads(out.splitlines()[-1])
    assert {"sgd_lanes", "sgd_epoch"} <= set(compiled)   # the drivers: the run's own (the cache was empty)
    assert any(name.endswith("steps_of") for name in compiled)   # and the single-example loop
    for kernel in ("_batch_epoch", "batch_step", "_single_margin", "_subsets_fill", "_fisher_yates"):
        again = [name for name in compiled if name.endswith(kernel)]   # qualified names: "….<locals>.steps_of"
        assert not again, f"{again} compiled again: the types compiled ahead are not the run's"


def _experiment(kind: str, data: str) -> dict:
    document = {"problem": {"kind": kind, "data": data}, "runs": {"a": {"sampler": "shuffled_cyclic", "batch_size": 4},
                                                                  "b": {"sampler": "full_batch"}}}
    return config.validated(document, where="test")


def test_the_command_starts_it_for_a_linear_model_only(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(ahead, "started", lambda *arguments: started.append(arguments))
    cli._compiling_ahead(_experiment("least_squares", "diabetes"))
    svmlight = tmp_path / "rows.svm"
    svmlight.write_text("1 1:0.5\n-1 2:1.5\n")
    cli._compiling_ahead(_experiment("logistic", str(svmlight)))
    assert cli._compiling_ahead(_experiment("mlp", "digits")) is None
    assert started == [("squared", False, [("shuffled_cyclic", {"batch_size": 4}), ("full_batch", {})]),
                       ("logistic", True, [("shuffled_cyclic", {"batch_size": 4}), ("full_batch", {})])]


def test_nothing_is_started_when_the_kernels_are_cached(monkeypatch):
    monkeypatch.setattr(ahead, "_batch_loop_cached", lambda: True)
    assert ahead.started("squared", False, []) is None
    assert ahead.started("hinge", False, []) is None   # no native loop of that loss


def test_a_helper_that_ends_before_reading_its_task_is_forgotten(monkeypatch):
    class Gone(io.BytesIO):
        def write(self, data):
            raise BrokenPipeError("the process has ended")

    made = []

    class Ended:
        def __init__(self, *arguments, **keywords):
            self.stdin, self.reaped = Gone(), False
            made.append(self)

        def wait(self):
            self.reaped = True

    monkeypatch.setattr(ahead, "_batch_loop_cached", lambda: False)
    monkeypatch.setattr(ahead.subprocess, "Popen", Ended)
    assert ahead.started("squared", False, []) is None and made[0].reaped
