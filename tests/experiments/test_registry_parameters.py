"""Every parameter of every registered sampler, method, averaging, schedule and step rule can be set from an
experiment file (text and tables) and from the command line's text, read through the registries."""

import json
import tomllib

import numpy as np
import pytest

from sgdlab.experiments import building, config, entries
from sgdlab.experiments.cli import main
from sgdlab.methods import AVERAGINGS, METHODS
from sgdlab.samplers import SAMPLERS
from sgdlab.schedules import SCHEDULES, STEP_RULES

#: A value other than the default for each parameter name a registry holds, as TOML writes it.
VALUES = {"batch_size": "3", "drop_last": "true", "weights": "[1.0, 2.0, 0.0, 1.0]", "chunk": "5", "beta": "0.5",
          "snapshot_every": "2", "p": "0.25", "start": "2", "fraction": "0.25", "decay": "0.5", "c": "0.25",
          "f_min": "0.125", "max_step": "2.0", "optimal": "0.5", "alpha": "0.25", "alpha0": "0.75", "factor": "0.5",
          "every": "3", "total": "40", "alpha_min": "0.01"}
REGISTRIES = {"sampler": SAMPLERS, "method": METHODS, "average": AVERAGINGS, "schedule": SCHEDULES,
              "step rule": STEP_RULES}
CASES = [(kind, name, parameter) for kind, registry in REGISTRIES.items() for name in registry
         for parameter in registry.parameters(name)]


def _value(parameter: str):
    return tomllib.loads(f"v = {VALUES[parameter]}")["v"]


def _held(obj, parameter: str):
    """The parameter as the object holds it (weights as their numbers)."""
    value = getattr(obj, parameter)
    return value.values.tolist() if hasattr(value, "values") and hasattr(value, "probabilities") else value


def test_every_parameter_has_a_value_to_try():
    assert {parameter for _, _, parameter in CASES} <= set(VALUES), "give each new parameter a value in VALUES"


@pytest.mark.parametrize("kind, name, parameter", CASES, ids=[f"{name}.{parameter}" for _, name, parameter in CASES])
def test_a_parameter_is_set_by_a_table_and_by_text(kind, name, parameter):
    registry, value = REGISTRIES[kind], _value(parameter)
    required = {key: _value(key) for key, known in registry.parameters(name).items()
                if known.default is known.empty and key != parameter}
    from_table = entries.build({"name": name, **required, parameter: value}, registry, kind)
    assert _held(from_table, parameter) == value
    if isinstance(value, list):   # a list's commas and brackets are not command-line text
        return
    text = ":".join([name, *(f"{key}={VALUES[key]}" for key in required), f"{parameter}={VALUES[parameter]}"])
    assert _held(entries.build(text, registry, kind), parameter) == value


@pytest.mark.parametrize("name, parameter", [(name, parameter) for kind, name, parameter in CASES
                                             if kind == "sampler"])
def test_a_run_table_sets_every_parameter_of_its_sampler(name, parameter):
    toml = f'[runs.a]\nsampler = "{name}"\n{parameter} = {VALUES[parameter]}\nstep = 0.1\n'
    runs = config.validated(tomllib.loads(toml))["runs"]
    sampler = building.run_settings(runs["a"], "[runs.a]")["sampler"]
    assert _held(sampler, parameter) == _value(parameter)


def test_the_command_line_sets_sampler_method_averaging_and_step_rule_parameters(tmp_path):
    args = ["compare", "--data", "synthetic", "--schemes", "shuffled_chunks:chunk=16:drop_last=true",
            "--batch-sizes", "4", "--methods", "heavy_ball:beta=0.25+tail_average:fraction=0.25,nesterov:beta=0.5",
            "--step", "stochastic_polyak:c=0.25:max_step=1.0", "--epochs", "2", "--seeds", "1", "--out",
            str(tmp_path)]
    assert main(args) == 0
    runs = json.loads((tmp_path / "experiment.json").read_text())["runs"]
    first = runs["shuffled_chunks:chunk=16:drop_last=true B=4 heavy_ball:beta=0.25+tail_average:fraction=0.25"]
    assert first["sampler"] == "shuffled_chunks(batch_size=4, drop_last=True, chunk=16)"
    assert first["method"] == "heavy ball (β = 0.25)" and first["average"] == "tail average (last 0.25 of the steps)"
    assert first["step"] == "stochastic_polyak:c=0.25:max_step=1.0"
    second = runs["shuffled_chunks:chunk=16:drop_last=true B=4 nesterov:beta=0.5"]
    assert second["method"] == "Nesterov (β = 0.5)"


def test_importance_weights_from_an_experiment_file_drive_the_draws(tmp_path):
    toml = ('[problem]\nkind = "least_squares"\ndata = "diabetes"\n\n'
            '[runs.a]\nsampler = { name = "importance", batch_size = 2, weights = "lipschitz" }\nstep = "0.25/L_B"\n')
    built = building.build(config.validated(tomllib.loads(toml)))
    sampler = built.runs["a"]["sampler"].for_problem(built.problem)
    np.testing.assert_allclose(sampler.weights.values, built.problem.lipschitz_each())
