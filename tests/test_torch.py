"""sgdlab's schemes in a PyTorch loop (sgdlab.torch): a plain torch.optim.SGD loop fed sl.torch.BatchSampler is the
same run as sl.minimize, a loader resumes mid-epoch from its state dict, ranks share every batch exactly once."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

import sgdlab as sl

torch = pytest.importorskip("torch")
DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

N, P = 23, 4

#: Every scheme over N examples, with batch sizes that leave a partial last batch.
SCHEMES = [
    sl.full_batch(), sl.with_replacement(1), sl.with_replacement(5), sl.without_replacement(5),
    sl.importance(3, weights=np.arange(1.0, N + 1)), sl.importance_shuffled(4, weights=np.arange(1.0, N + 1)),
    sl.cyclic(5), sl.cyclic(5, drop_last=True), sl.shuffled_cyclic(1), sl.shuffled_cyclic(6),
    sl.shuffle_once(4), sl.flip_flop(3), sl.shuffled_chunks(4, 6),
]


@pytest.fixture(scope="module")
def least_squares():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, P)) * rng.uniform(0.5, 2.0, size=(N, 1))
    return X, X @ rng.normal(size=P) + 0.1 * rng.normal(size=N)


def torch_run(X, y, batch_sampler, step, epochs):
    """A plain PyTorch loop: float64, torch.optim.SGD at a constant step, mean ½(xᵢᵀθ − yᵢ)² over each batch
    (each term times the sampler's weight 1/(N pᵢ) for importance sampling)."""
    weights = batch_sampler.example_weights
    weights = torch.ones(len(y), dtype=torch.float64) if weights is None else weights
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y), weights), batch_sampler=batch_sampler)
    theta = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=step)
    for _ in range(epochs):
        for xb, yb, wb in loader:
            optimizer.zero_grad()
            (wb * 0.5 * (xb @ theta - yb) ** 2).mean().backward()
            optimizer.step()
    return theta.detach().numpy()


@pytest.mark.parametrize("scheme", SCHEMES, ids=repr)
def test_a_torch_loop_fed_the_batch_sampler_is_the_same_run_as_minimize(least_squares, scheme):
    X, y = least_squares
    problem = sl.least_squares(X, y)
    step, seed, epochs = 0.3 / problem.lipschitz_max(), 7, 3
    ours = sl.minimize(problem, scheme, step, epochs=epochs, seed=seed).params
    theirs = torch_run(X, y, sl.torch.BatchSampler(scheme, n=N, seed=seed), step, epochs)
    np.testing.assert_allclose(theirs, np.asarray(ours), rtol=0, atol=1e-10)


def test_importance_by_lipschitz_constants_runs_once_bound_to_its_problem(least_squares):
    X, y = least_squares
    problem = sl.least_squares(X, y)
    scheme, step = sl.importance(2), 0.3 / problem.lipschitz_max()
    ours = sl.minimize(problem, scheme, step, epochs=2, seed=1).params
    theirs = torch_run(X, y, sl.torch.BatchSampler(scheme.for_problem(problem), n=N, seed=1), step, 2)
    np.testing.assert_allclose(theirs, np.asarray(ours), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"sampler must be importance.*bound to its problem"):
        sl.torch.BatchSampler(scheme, n=N)


@pytest.mark.parametrize("scheme", SCHEMES, ids=repr)
def test_each_pass_is_the_next_epoch_and_epochs_runs_them_in_one_pass(scheme):
    stream = sl.torch.BatchSampler(scheme, n=N, seed=4)
    for epoch in range(3):
        assert [list(b) for b in stream] == [list(b) for b in scheme.batches(N, epoch, seed=4)]
        assert len(stream) == len(scheme.batches(N, epoch, seed=4))
    long = sl.torch.BatchSampler(scheme, n=N, seed=4, epochs=3)
    expected = [list(b) for epoch in range(3) for b in scheme.batches(N, epoch, seed=4)]
    assert [list(b) for b in long] == expected and len(long) == len(expected)
    assert list(long) == []   # every epoch handed out
    flat = sl.torch.Sampler(scheme, n=N, seed=4, epochs=3)
    assert list(flat) == [i for batch in expected for i in batch]


@pytest.mark.parametrize("scheme", [sl.shuffled_cyclic(5), sl.with_replacement(3), sl.flip_flop(4)], ids=repr)
@pytest.mark.parametrize("stop_after", [1, 2, 4, 5, 9])
def test_a_loader_resumed_from_its_state_dict_yields_the_remaining_batches(tmp_path, scheme, stop_after):
    dataset = TensorDataset(torch.arange(N))
    whole = [b[0].tolist() for b in DataLoader(dataset, batch_sampler=sl.torch.BatchSampler(scheme, N, 3, epochs=3))]
    first = sl.torch.BatchSampler(scheme, N, 3, epochs=3)
    seen = []
    for batch in DataLoader(dataset, batch_sampler=first):
        seen.append(batch[0].tolist())   # trained on
        if len(seen) == stop_after:
            break
    torch.save(first.state_dict(), tmp_path / "sampler.pt")   # as a checkpoint would
    resumed = sl.torch.BatchSampler(scheme, N, 0, epochs=3)   # the seed comes back with the state
    resumed.load_state_dict(torch.load(tmp_path / "sampler.pt"))
    rest = [b[0].tolist() for b in DataLoader(dataset, batch_sampler=resumed)]
    assert seen + rest == whole


def test_the_state_at_an_epoch_boundary_points_at_the_next_epoch():
    stream = sl.torch.BatchSampler(sl.cyclic(5), n=N, seed=2)
    list(stream)
    assert {k: stream.state_dict()[k] for k in ("seed", "epoch", "position")} == {"seed": 2, "epoch": 1, "position": 0}
    stream.load_state_dict(pickle.loads(pickle.dumps(stream.state_dict())))
    assert [list(b) for b in stream] == [list(b) for b in sl.cyclic(5).batches(N, 1)]


def padded_pieces(batch_row, mask_row, world_size):
    """The reference split: the plan's row padded to a multiple of D and cut into D equal consecutive pieces, the
    real entries of piece r for rank r (np.array_split of the padded row)."""
    width = len(batch_row) + (-len(batch_row)) % world_size
    padded = np.full(width, -1)
    padded[:len(batch_row)] = np.where(mask_row != 0, batch_row, -1)
    return [piece[piece >= 0] for piece in np.array_split(padded, world_size)]


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s.plan(N, 0, 0)[0].shape[1] >= 3], ids=repr)
@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_split_every_batch_into_disjoint_shares_whose_union_is_the_batch(scheme, world_size):
    ranks = [sl.torch.BatchSampler(scheme, N, 5, epochs=2, rank=r, world_size=world_size) for r in range(world_size)]
    shares = [[np.array(b) for b in rank] for rank in ranks]
    single = [b for epoch in range(2) for b in scheme.batches(N, epoch, seed=5)]
    assert all(len(rank) == len(single) for rank in shares)   # every rank steps together
    plans = [scheme.plan(N, 5, epoch) for epoch in range(2)]
    rows = [(row, keep) for indices, mask in plans for row, keep in zip(indices, mask, strict=True)]
    for step, (batch, (row, keep)) in enumerate(zip(single, rows, strict=True)):
        parts = [rank[step] for rank in shares]
        assert sorted(np.concatenate(parts).tolist()) == sorted(batch.tolist())
        positions = np.concatenate([np.arange(len(p)) + 1000 * r for r, p in enumerate(parts)])
        assert len(positions) == len(batch)   # no entry twice (with replacement, equal indices are distinct draws)
        for part, expected in zip(parts, padded_pieces(row, keep, world_size), strict=True):
            assert part.tolist() == expected.tolist()


def test_rank_and_world_size_default_from_an_initialised_process_group(tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        stream = sl.torch.BatchSampler(sl.cyclic(4), N)
        assert (stream.rank, stream.world_size) == (0, 1)
    finally:
        torch.distributed.destroy_process_group()


TWO_RANKS = """
import os
import sys
import numpy as np
import torch
import sgdlab as sl

rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.distributed.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
rng = np.random.default_rng(0)
X = rng.normal(size=(23, 4)); y = X @ rng.normal(size=4)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1, bias=False).double())
torch.nn.init.zeros_(model.module.weight)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scheme = sl.shuffled_cyclic(5)
stream = sl.torch.BatchSampler(scheme, n=23, seed=3, epochs=2)   # rank and world size from the process group
sizes = iter([len(b) for e in range(2) for b in scheme.batches(23, e, seed=3)])
for idx in stream:
    optimizer.zero_grad()
    xb, yb = torch.from_numpy(X[idx]), torch.from_numpy(y[idx])
    # DDP averages the ranks' gradients: a share's sum times D/|batch| gives the batch mean
    (0.5 * ((model(xb)[:, 0] - yb) ** 2).sum() * 2 / next(sizes)).backward()
    optimizer.step()
np.save(out, model.module.weight.detach().numpy()[0])
torch.distributed.barrier()   # both ranks done; then leave without tearing gloo down, whose threads may abort
os._exit(0)                   # a normal exit ("terminate called without an active exception", seen here)
"""


def test_two_ranks_under_ddp_train_as_one_process_does(tmp_path, least_squares):
    script = tmp_path / "ranks.py"
    script.write_text(TWO_RANKS)
    ranks = [subprocess.Popen([sys.executable, str(script), str(r), str(tmp_path / "store"), str(tmp_path / f"{r}.npy")])
             for r in range(2)]
    assert [rank.wait(timeout=120) for rank in ranks] == [0, 0]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(23, 4))
    y = X @ rng.normal(size=4)
    single = sl.minimize(sl.least_squares(X, y), sl.shuffled_cyclic(5), 0.05, epochs=2, seed=3).params
    for r in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"{r}.npy"), np.asarray(single), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: sl.torch.BatchSampler(sl.grab(2), N), "sampler must be a scheme whose plans depend on"),
    (lambda: sl.torch.BatchSampler(sl.iid(2), N), "sampler must be a scheme over N examples"),
    (lambda: sl.torch.BatchSampler("cyclic", N), "sampler must be an sgdlab sampler"),
    (lambda: sl.torch.BatchSampler(sl.cyclic(2), 0), "n must be an integer >= 1"),
    (lambda: sl.torch.BatchSampler(sl.cyclic(2), N, seed=-1), "seed must be an integer >= 0"),
    (lambda: sl.torch.BatchSampler(sl.cyclic(2), N, epochs=0), "epochs must be an integer >= 1"),
    (lambda: sl.torch.BatchSampler(sl.cyclic(2), N, rank=2, world_size=2), "rank must be below world_size = 2"),
    (lambda: sl.torch.Sampler(sl.importance(1), N), "bound to its problem"),
    (lambda: sl.torch.BatchSampler(sl.cyclic(2), N, rank=0, world_size=3), "world_size must be at most the batch size 2"),
])
def test_bad_arguments_are_refused_naming_the_parameter(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize(("change", "message"), [
    (dict(scheme="cyclic(batch_size=3, drop_last=False)"), "state must be a state saved from scheme = "),
    (dict(n=24), "state must be a state saved from n = 23; got n = 24"),
    (dict(world_size=2), "state must be a state saved from world_size = 1"),
    (dict(position=5), r"position must be below the 5 units of epoch 0 for state; got 5"),
    (dict(epoch=-1), "epoch must be an integer >= 0 for state"),
])
def test_a_state_from_another_stream_is_refused(change, message):
    stream = sl.torch.BatchSampler(sl.cyclic(5), N)
    with pytest.raises(ValueError, match=message):
        stream.load_state_dict({**stream.state_dict(), **change})
    with pytest.raises(ValueError, match="state must be a mapping with the keys scheme, n"):
        stream.load_state_dict({"epoch": 1})


def test_importing_sgdlab_and_running_does_not_import_torch():
    code = ("import sys, numpy as np, sgdlab as sl; sl.minimize(sl.least_squares(np.eye(3), np.ones(3)), "
            "'cyclic', 0.1, epochs=1); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
