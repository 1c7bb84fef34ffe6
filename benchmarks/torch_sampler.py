"""What sl.torch.BatchSampler costs a PyTorch loop: one epoch of index batches, and one epoch through a DataLoader,
against PyTorch's own BatchSampler(RandomSampler) (random reshuffling) and DistributedSampler.

Run:  python benchmarks/torch_sampler.py [--repeats 5] [--out benchmarks/RESULTS-torch.md]

N = 1,000,000 examples, B = 64 (15,625 batches), median seconds over the repeats, each timed in this process.
"Indices" iterates the batch sampler alone; "DataLoader" fetches the batches of a TensorDataset of N × 16 float32
rows (num_workers = 0), as a training loop would before its step.
"""

import argparse
import statistics
import time

import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler, TensorDataset

import sgdlab as sl

N, B, P = 1_000_000, 64, 16


def seconds(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def samplers():
    """Name -> a fresh batch sampler over one epoch (a new random order each)."""
    generator = torch.Generator().manual_seed(0)
    return {
        "torch BatchSampler(RandomSampler)": lambda: BatchSampler(RandomSampler(range(N), generator=generator), B,
                                                                  drop_last=False),
        "torch BatchSampler(DistributedSampler, 1 rank)": lambda: BatchSampler(
            DistributedSampler(range(N), num_replicas=1, rank=0, seed=0), B, drop_last=False),
        "sl.torch.BatchSampler(shuffled_cyclic)": lambda: sl.torch.BatchSampler(sl.shuffled_cyclic(B), N),
        "sl.torch.BatchSampler(without_replacement)": lambda: sl.torch.BatchSampler(sl.without_replacement(B), N),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/RESULTS-torch.md")
    args = parser.parse_args()
    dataset = TensorDataset(torch.randn(N, P), torch.randn(N))
    rows = []
    for name, make in samplers().items():
        indices = seconds(lambda make=make: sum(len(batch) for batch in make()), args.repeats)
        loader = seconds(lambda make=make: sum(len(x) for x, _ in DataLoader(dataset, batch_sampler=make())),
                         args.repeats)
        rows.append((name, indices, loader))
    base_indices, base_loader = rows[0][1][0], rows[0][2][0]
    lines = [f"One epoch, N = {N:,}, B = {B}, median (min–max) s over {args.repeats} repeats; ratio to the first row",
             "", "| sampler | indices | ratio | DataLoader | ratio |", "| --- | --- | --- | --- | --- |"]
    for name, (i_med, i_min, i_max), (l_med, l_min, l_max) in rows:
        lines.append(f"| {name} | {i_med:.3f} ({i_min:.3f}–{i_max:.3f}) | {i_med / base_indices:.2f} "
                     f"| {l_med:.2f} ({l_min:.2f}–{l_max:.2f}) | {l_med / base_loader:.2f} |")
    table = "\n".join(lines)
    print(table)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(args.out, "w") as file:
        file.write(f"# sl.torch.BatchSampler against PyTorch's samplers\n\n{stamp}\n\n{table}\n")


if __name__ == "__main__":
    main()
