"""The README's Python examples run as written, and the numbers it quotes from an example are what it prints."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_readme_example_runs(number, capsys):
    """Each Python block runs as written (from the project's folder, as its data paths say) and writes
    nothing into the current folder."""
    before = set(Path.cwd().iterdir())
    exec(compile(EXAMPLES[number], f"README example {number + 1}", "exec"), {})
    assert capsys.readouterr().out
    assert set(Path.cwd().iterdir()) <= before


def test_readme_first_lines_give_the_two_commands():
    head = README.read_text().splitlines()[:6]
    assert any("sgdlab compare" in line for line in head)
    assert any("python -m pytest" in line for line in head)


def test_readme_experiment_file_is_valid_and_runs(tmp_path):
    import tomllib

    from sgdlab.experiments import building, config
    from sgdlab.experiments.compare import compare

    toml, _ = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    experiment = config.validated(tomllib.loads(toml))
    assert set(experiment["runs"]) == {"gd", "sgd", "rr"}
    problem, runs, _, title, _, _ = building.build(experiment)
    comparison = compare(problem, runs, seeds=2, epochs=2, out=tmp_path, title=title)
    assert set(comparison.table.status) == {"max_epochs"}


def test_readme_study_file_is_an_excerpt_of_the_example_study():
    """The README's study excerpt is a valid study itself, and each of its lines is in examples/libsvm_study.toml,
    which validates with every data file in place."""
    import tomllib

    from sgdlab.experiments import config

    _, excerpt = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    experiment = config.validated(tomllib.loads(excerpt))
    assert [spec["name"] for spec in experiment["problems"]] == ["mushrooms"] and set(experiment["runs"]) == {"rr"}
    example = README.parent / "examples" / "libsvm_study.toml"
    lines = {line.split("#")[0].strip() for line in example.read_text().splitlines()}
    assert all(line.split("#")[0].strip() in lines for line in excerpt.splitlines())
    study = config.read(example)
    assert [spec["name"] for spec in study["problems"]] == ["mushrooms", "w8a", "a9a"]
    missing = [spec["data"] for spec in study["problems"] if not Path(spec["data"]).is_file()]
    if missing:
        pytest.skip(f"shared data not found: {missing}")


def test_readme_importance_sampling_table_is_the_examples_output(monkeypatch, capsys, tmp_path):
    """The README's table of examples/importance_sampling.py quotes what the example prints (seeded): each sampler's
    α and F − p* after 100 epochs to two significant digits, and its epochs to the target."""
    import runpy

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["importance_sampling.py"])
    runpy.run_path(str(README.parent / "examples" / "importance_sampling.py"), run_name="__main__")
    printed = {line.split()[0].rstrip(","): line.split()[-3:] for line in capsys.readouterr().out.splitlines()
               if line.startswith(("uniform", "importance"))}
    quoted = {row[0].split(",")[0].split()[0]: row[1:] for row in
              (re.split(r"\s*\|\s*", line.strip("| ")) for line in README.read_text().splitlines()
               if line.startswith(("| uniform, with replacement", "| importance, pᵢ ∝ Lᵢ")))}
    assert set(printed) == set(quoted) == {"uniform", "importance"}
    for sampler, (alpha, epochs, gap) in printed.items():
        assert quoted[sampler] == [f"{float(alpha):.1e}".replace("e-0", "e-"), epochs,
                                   f"{float(gap):.1e}".replace("e-0", "e-")], sampler
