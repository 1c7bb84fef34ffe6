"""A results folder's report is drawn once: kept while the folder's files are those it was drawn from."""

import numpy as np

import sgdlab as sl
from sgdlab.experiments import rendered, report

RUNS = {"GD": dict(sampler=sl.full_batch()), "RR": dict(sampler=sl.shuffled_cyclic(8), step="0.5/L_B")}


def _problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return sl.least_squares(X, X @ np.ones(3) + 0.1 * rng.normal(size=40))


def _refuse_to_render(*arguments):
    raise AssertionError("the report was drawn again")


def test_an_unchanged_folder_keeps_its_report_and_any_change_draws_it_again(tmp_path, monkeypatch):
    problem = _problem()
    sl.compare(problem, RUNS, seeds=2, epochs=3, out=tmp_path)
    target = report.write_report(tmp_path)
    page = target.read_text(encoding="utf-8")
    assert page.startswith(rendered.PREFIX) and page.rstrip().endswith("</html>")
    # a rerun that reuses every run rewrites only experiment.json's creation time: the report is kept
    assert sl.compare(problem, RUNS, seeds=2, epochs=3, out=tmp_path).reused == 4   # 2 runs × 2 seeds
    with monkeypatch.context() as patched:
        patched.setattr(report, "render", _refuse_to_render)
        assert report.write_report(tmp_path).read_text(encoding="utf-8") == page
    # a report cut short, or one without the digest line (an older sgdlab's), is drawn again (whole, of the same
    # files; only the creation time the rerun recorded differs)
    digest = rendered.rendered_from(target)
    for damaged in (page[: len(page) // 2], page.partition("\n")[2]):
        target.write_text(damaged, encoding="utf-8")
        report.write_report(tmp_path)
        assert rendered.rendered_from(target) == digest and len(target.read_text(encoding="utf-8")) == len(page)
    # more epochs: another table, another report
    sl.compare(problem, RUNS, seeds=2, epochs=4, out=tmp_path, overwrite=True)
    assert report.write_report(tmp_path).read_text(encoding="utf-8") != page


def test_the_digest_covers_the_table_bytes_and_ignores_only_the_creation_time(tmp_path):
    problem = _problem()
    sl.compare(problem, RUNS, seeds=2, epochs=3, out=tmp_path)
    experiment = {"created": "then", "settings": {"epochs": 3}}
    digest = rendered.inputs_digest(tmp_path, experiment)
    assert rendered.inputs_digest(tmp_path, {**experiment, "created": "now"}) == digest
    assert rendered.inputs_digest(tmp_path, {**experiment, "settings": {"epochs": 4}}) != digest
    table = tmp_path / "table.parquet"
    table.write_bytes(table.read_bytes() + b" ")
    assert rendered.inputs_digest(tmp_path, experiment) != digest
