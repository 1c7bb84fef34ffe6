"""Small experiment files for the command-line tests."""

SCHEMES = {"gd": 'sampler = "full_batch"', "rr": 'sampler = "shuffled_cyclic"\nbatch_size = 16',
           "sgd": 'sampler = "with_replacement"\nbatch_size = 16'}


def logistic_experiment(out: str, runs=("gd", "rr")) -> str:
    """Logistic regression on breast_cancer, 2 epochs, 2 seeds, the given runs at their default steps, saved in
    ``out`` (read from the file's folder)."""
    return single_experiment(out, STUDY_PROBLEMS[0], runs)


#: Two problems of a study: (name, kind, bundled data).
STUDY_PROBLEMS = (("breast", "logistic", "breast_cancer"), ("diabetes", "least_squares", "diabetes"))


def study_experiment(out: str, runs=("gd", "rr", "sgd"), epochs: int = 2, seeds: int = 2,
                     problems=STUDY_PROBLEMS) -> str:
    """A study: the given runs at their default steps on each of ``problems`` ([[problems]] tables), saved in
    ``out``."""
    tables = "".join(f'[[problems]]\nname = "{name}"\nkind = "{kind}"\ndata = "{data}"\n\n'
                     for name, kind, data in problems)
    return tables + _compare_and_runs(out, runs, epochs, seeds)


def single_experiment(out: str, problem: tuple[str, str, str], runs=("gd", "rr", "sgd"), epochs: int = 2,
                      seeds: int = 2) -> str:
    """The same runs on one of a study's problems alone ([problem])."""
    _, kind, data = problem
    return f'[problem]\nkind = "{kind}"\ndata = "{data}"\n\n' + _compare_and_runs(out, runs, epochs, seeds)


def _compare_and_runs(out: str, runs, epochs: int, seeds: int) -> str:
    head = f'[compare]\nepochs = {epochs}\nseeds = {seeds}\nout = "{out}"\n'
    return head + "".join(f"\n[runs.{name}]\n{SCHEMES[name]}\n" for name in runs)
