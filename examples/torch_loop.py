"""A PyTorch training loop fed by an sgdlab sampler, interrupted mid-epoch and resumed from saved state dicts.

Run:  python examples/torch_loop.py        (needs PyTorch: pip install 'sgdlab[torch]')

Logistic regression on LIBSVM mushrooms (8,124 × 112) as a torch model, trained by torch.optim.SGD on the
batches of ``sl.shuffled_cyclic(64)`` (random reshuffling) handed to a DataLoader by ``sl.torch.BatchSampler``:
each pass over the loader is the next epoch's permutation, with no ``set_epoch``. The loop is stopped part way
through epoch 2 and its model, optimizer and sampler state dicts are saved; a new process's worth of objects
loads them and finishes the run. It prints the resumed run's distance to an uninterrupted one (0: the same
batches in the same order) and to ``sl.minimize`` on the same problem and seed (the same run in two frameworks).
"""

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import sgdlab as sl

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "libsvm" / "mushrooms"
SCHEME, SEED, EPOCHS, STEP = sl.shuffled_cyclic(64), 0, 4, 0.5
STOP_AT = (2, 50)   # (epoch, batch): where the first loop is interrupted


def parts(X):
    """A fresh model, optimizer, sampler and loader: what a restarted process builds before loading state."""
    model = torch.nn.Linear(X.shape[1], 1, bias=False, dtype=torch.float64)
    torch.nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=STEP)
    sampler = sl.torch.BatchSampler(SCHEME, n=len(X), seed=SEED)
    return model, optimizer, sampler


def train(model, optimizer, loader, epochs, stop_at=None):
    """Logistic loss log(1 + exp(−y xᵀθ)), labels ±1; returns early (True) at ``stop_at`` = (epoch, batch)."""
    for epoch in range(epochs):
        for batch, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            torch.nn.functional.softplus(-yb * model(xb)[:, 0]).mean().backward()
            optimizer.step()
            if (epoch, batch + 1) == stop_at:
                return True
    return False


def main():
    data = sl.data.load(str(DATA))
    X, y = data.X.toarray(), np.where(data.y == data.y.max(), 1.0, -1.0)
    dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

    whole, optimizer, sampler = parts(X)
    train(whole, optimizer, DataLoader(dataset, batch_sampler=sampler), EPOCHS)

    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "checkpoint.pt"
        model, optimizer, sampler = parts(X)
        train(model, optimizer, DataLoader(dataset, batch_sampler=sampler), EPOCHS, stop_at=STOP_AT)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "sampler": sampler.state_dict()}, checkpoint)
        print(f"interrupted: {sampler.state_dict()}")

        model, optimizer, sampler = parts(X)   # as a restarted process would
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        left = EPOCHS - sampler.state_dict()["epoch"]   # the rest of epoch 2, then epoch 3
        train(model, optimizer, DataLoader(dataset, batch_sampler=sampler), left)

    resumed, uninterrupted = (m.weight.detach().numpy()[0] for m in (model, whole))
    ours = np.asarray(sl.minimize(sl.logistic_regression(X, y), SCHEME, STEP, epochs=EPOCHS, seed=SEED).params)
    print(f"resumed vs uninterrupted PyTorch run: max |Δθ| = {np.abs(resumed - uninterrupted).max():.1e}")
    print(f"resumed PyTorch run vs sl.minimize:   max |Δθ| = {np.abs(resumed - ours).max():.1e}")


if __name__ == "__main__":
    main()
