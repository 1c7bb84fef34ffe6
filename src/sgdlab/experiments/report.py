"""The HTML report of a results folder, rebuilt from the folder alone.

``write_report(folder)`` reads what ``compare(..., out=folder)`` saves (folder/table.parquet, predictions.parquet and
experiment.json, each verified) and writes folder/report.html, one self-contained file (figures embedded as PNG,
no network needed): the page of :mod:`sgdlab.experiments.comparison_page`. For the folder of a study
(``study(..., out=folder)``, :mod:`sgdlab.experiments.study_folder`) it writes each problem's report and the
study's page (:mod:`sgdlab.experiments.study_page`). A report drawn from the very same files is kept as it is
(:mod:`sgdlab.experiments.rendered`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sgdlab._helpers.files import atomic_write
from sgdlab.experiments import rendered
from sgdlab.experiments.comparison_page import render
from sgdlab.experiments.predictions import COLUMNS
from sgdlab.experiments.store import read_comparison
from sgdlab.experiments.study_folder import is_study, problem_folder, read_study
from sgdlab.experiments.study_page import render_study


def write_report(folder) -> Path:
    """Build folder/report.html from the comparison or the study saved in ``folder`` (a study's problems get their
    own reports too); a report drawn from the very same files is kept as it is (:mod:`sgdlab.experiments.rendered`)."""
    folder = Path(folder)
    if is_study(folder):
        record, comparisons = read_study(folder)
        for name in comparisons:
            write_report(problem_folder(folder, name))
        digest = rendered.study_digest(folder, record, {name: c[1] for name, c in comparisons.items()})
        return _written(folder / "report.html", digest, lambda: render_study(record, comparisons))
    table, experiment, predicted = read_comparison(folder)
    empty = pd.DataFrame(columns=COLUMNS)
    return _written(folder / "report.html", rendered.inputs_digest(folder, experiment),
                    lambda: render(table, experiment, empty if predicted is None else predicted))


def _written(target: Path, digest: str, page: Callable[[], str]) -> Path:
    """``target`` kept when it was rendered from inputs of this ``digest``, else written anew from ``page()``."""
    if rendered.rendered_from(target) != digest:
        text = rendered.first_line(digest) + page()
        atomic_write(target, lambda path: path.write_text(text, encoding="utf-8"))
    return target
