"""A study's problems built by the workers from their description: the submitting process never reads their data.

When a study described in an experiment file runs on an executor (``sgdlab run STUDY.toml --scheduler …`` or
``--workers N``), the client sends each problem's description — its validated table, the data file's absolute
path and its SHA-256, computed here by reading the file in blocks — never its arrays. A worker reads the file,
checks its SHA-256 against the client's, builds the problem (once per process: :func:`problem_here`) and plans
the problem's comparison (:func:`planned_there`), computing there what the comparison's record says of the
problem (its constants, the theory's predictions). The client receives the plan with each problem in it replaced
by a :class:`BuiltThere`, which pickles as its description: every run group's task carries the description,
and the worker that runs it builds the problem, or finds it built. A study whose problems' data together exceed
the client's memory runs; and since a problem is a task's result computed from its description, Dask recomputes
it on another worker when the one holding it dies.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from sgdlab._helpers import validation
from sgdlab._helpers.files import file_sha256
from sgdlab.experiments import building, groups
from sgdlab.experiments.compare import Session, plan
from sgdlab.experiments.config import NAMED_DATA

#: How many built problems a worker process keeps (least recently used out first).
KEPT = 4
#: The reference name of a plan's training problem; its held-out problems are "heldout:<name>".
TRAINING = "problem"


class BuiltThere:
    """Stands, in the client, for a problem the workers build: its description, the SHA-256 of its data file
    (None for a bundled data set), which of the description's problems it is (:data:`TRAINING` or
    "heldout:<name>") and its rows ``n``. Pickled, it is the call that builds the problem where it is unpickled."""

    def __init__(self, description: dict, digest: str | None, part: str, n: int):
        self.description, self.digest, self.part, self.n = description, digest, part, n

    def __reduce__(self):
        return problem_here, (self.description, self.digest, self.part)

    def __repr__(self) -> str:
        spec = self.description["problem"]
        return f"<{spec['kind']} on {spec['data']} ({self.part}), built by the workers>"


def planned(descriptions: dict[str, dict], executor: Executor, folders: dict[str, Path],
            overwrite: bool) -> dict[str, Session]:
    """Each problem's comparison planned by a worker of ``executor`` that builds the problem from its description
    (its results in ``folders[name]``), by name, with :class:`BuiltThere` in place of its problems."""
    described = {name: _located(description) for name, description in descriptions.items()}
    futures = {name: executor.submit(planned_there, description, digest, str(folders[name].resolve()), overwrite)
               for name, (description, digest) in described.items()}
    sessions = {}
    for name, future in futures.items():
        plan_bytes, sizes = building.named(name, future.result)
        description, digest = described[name]
        stand_ins = {part: BuiltThere(description, digest, part, n) for part, n in sizes.items()}
        sessions[name] = groups.unpickled_with_references(plan_bytes, stand_ins)
    return sessions


def planned_there(description: dict, digest: str | None, out: str, overwrite: bool) -> tuple[bytes, dict[str, int]]:
    """In a worker: the comparison of a described problem, planned and pickled with its problems as references
    (their names and rows beside), what its record says of the problem computed here."""
    built = _built(_canonical(description), digest)
    session = plan(built.problem, built.runs, **building.comparison_options(description, built, digest), out=out,
                   overwrite=overwrite)   # the digest _built checked: the file is not hashed twice
    session.problem_facts()
    problems = {TRAINING: built.problem, **{f"heldout:{name}": problem for name, problem in
                                           (built.heldout or {}).items()}}
    return (groups.pickled_with_references(session, problems),
            {part: problem.n for part, problem in problems.items()})


def problem_here(description: dict, digest: str | None, part: str) -> Any:
    """In a worker: one problem of a description (:class:`BuiltThere`), built once per process."""
    built = _built(_canonical(description), digest)
    if part == TRAINING:
        return built.problem
    assert built.heldout is not None   # the parts are the ones planned_there named
    return built.heldout[part.removeprefix("heldout:")]


@functools.lru_cache(maxsize=KEPT)
def _built(description_text: str, digest: str | None) -> building.Built:
    """The description (as canonical JSON) built, its data file first checked against the client's SHA-256."""
    description = json.loads(description_text)
    if digest is not None:
        path = Path(description["problem"]["data"])
        found = file_sha256(path)
        if found != digest:
            validation.fail("data", f"the file the study was submitted with (SHA-256 {digest})",
                            f"{path} with SHA-256 {found} on this worker")
    return building.build(description)


def _located(description: dict) -> tuple[dict, str | None]:
    """(the description with its data file's absolute path, the file's SHA-256); a bundled data set's name stays,
    without a digest."""
    data = description["problem"]["data"]
    if data in NAMED_DATA:
        return description, None
    path = Path(data).resolve()
    return {**description, "problem": {**description["problem"], "data": str(path)}}, file_sha256(path)


def _canonical(description: dict) -> str:
    """A description as JSON with sorted keys: one text for equal descriptions (the per-process cache's key)."""
    return json.dumps(description, sort_keys=True)
