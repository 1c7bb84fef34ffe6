"""Small experiment files for the command-line tests."""

SCHEMES = {"gd": 'sampler = "full_batch"', "rr": 'sampler = "shuffled_cyclic"\nbatch_size = 16',
           "sgd": 'sampler = "with_replacement"\nbatch_size = 16'}


def logistic_experiment(out: str, runs=("gd", "rr")) -> str:
    """Logistic regression on breast_cancer, 2 epochs, 2 seeds, the given runs at their default steps, saved in
    ``out`` (read from the file's folder)."""
    head = f'[problem]\nkind = "logistic"\ndata = "breast_cancer"\n\n[compare]\nepochs = 2\nseeds = 2\nout = "{out}"\n'
    return head + "".join(f"\n[runs.{name}]\n{SCHEMES[name]}\n" for name in runs)
