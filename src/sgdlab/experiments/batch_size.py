"""Choosing the batch size: both views of one problem side by side.

:func:`study` runs a comparison of one sampler over several batch sizes B (each with the step
1/L_B of its size, over seeds), and beside it computes the gradient-noise scale B_simple at θ⁰
(``sgdlab.theory.noise_scale``: per iteration, batches much larger than B_simple buy little) and
the throughput probe's knee (``sgdlab.probe_batch_sizes``: per second, batches beyond the knee
buy little). With ``out`` the analysis is saved in experiment.json under "batch_size", and the
report plots epochs and seconds to the target against B with both marked.
"""

from __future__ import annotations

import json
from pathlib import Path

from sgdlab import samplers, theory
from sgdlab._helpers import validation
from sgdlab._helpers.files import atomic_write
from sgdlab.experiments.compare import Comparison, compare
from sgdlab.experiments.run_tables import run_name
from sgdlab.theory.probe import checked_sizes, probe_batch_sizes


def study(problem, sizes: list[int], sampler: str = "shuffled_cyclic", seeds=5, epochs: int = 20, out=None,
          title: str | None = None, on_epoch=None, overwrite: bool = False,
          source: dict | None = None) -> tuple[Comparison, dict]:
    """(the comparison over ``sizes``, the analysis: B_simple at θ⁰, the probe's table and knee); ``out``,
    ``overwrite`` and ``source`` as in :func:`~sgdlab.experiments.compare.compare`."""
    sizes = checked_sizes(sizes, problem.n)
    make = samplers.SAMPLERS[sized_sampler(sampler)]
    runs = {run_name(sampler, size): {"sampler": make(size)} for size in sizes}
    comparison = compare(problem, runs, seeds=seeds, epochs=epochs, out=out, title=title, on_epoch=on_epoch,
                         overwrite=overwrite, source=source)
    scale = theory.noise_scale(problem)
    probe = probe_batch_sizes(problem, sizes)
    analysis = {"sizes": list(sizes), "sampler": sampler, "b_simple": scale.b_simple,
                "noise_scale": {"grad_norm_squared": scale.grad_norm_squared,
                                "trace_covariance": scale.trace_covariance, "examples": scale.examples,
                                "exact": scale.exact},
                "knee": None if not probe.knee.any() else int(probe.batch_size[probe.knee].iloc[0]),
                "probe": probe.to_dict("records")}
    if out is not None:
        _save(Path(out) / "experiment.json", analysis)
    return comparison, analysis


def sized_sampler(name: str) -> str:
    """``name``, checked to be a registered sampler whose factory takes a batch size."""
    registry = samplers.SAMPLERS
    sized = [entry for entry in registry if "batch_size" in registry.parameters(entry)]
    if registry.named(name, "sampler") not in sized:
        validation.fail("sampler", f"a sampler that takes a batch size, one of {', '.join(sized)}", repr(name))
    return name


def _save(path: Path, analysis: dict) -> None:
    document = json.loads(path.read_text())
    document["batch_size"] = analysis
    atomic_write(path, lambda temporary: temporary.write_text(json.dumps(document, indent=2, default=float) + "\n"))
