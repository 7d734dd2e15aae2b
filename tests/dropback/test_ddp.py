"""DropBack under DistributedDataParallel: 2 CPU processes, gloo. The tracked set is the same on
every rank after every step, and the run ends where a single process with the same global batch
ends (the same accuracy; weights equal up to the order of float sums)."""

import os
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from accelsim.dropback.distributed import check_tracked_in_sync
from accelsim.dropback.optimizer import DropBack
from accelsim.train.data import load_dataset

GLOBAL_BATCH, STEPS, BUDGET, LR = 64, 22, 2000, 0.1  # 22 x 64 < 1442 samples


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))


def _batches(data):
    order = np.random.default_rng(0).permutation(len(data.train_y))
    for step in range(STEPS):
        take = order[step * GLOBAL_BATCH:(step + 1) * GLOBAL_BATCH]  # whole batches only
        yield torch.from_numpy(data.train_x[take]), torch.from_numpy(data.train_y[take])


def _accuracy(model, data):
    with torch.no_grad():
        logits = model(torch.from_numpy(data.test_x))
    return float((logits.argmax(1) == torch.from_numpy(data.test_y)).float().mean())


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _single():
    data = load_dataset("digits", flatten=True)
    model = _model()
    db = DropBack(model, torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9),
                  budget=BUDGET)
    for x, y in _batches(data):
        db.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        db.step()
    return _accuracy(model, data), _flat(model), db.tracked_index()


def _rank(rank, world, store_path, out_path):
    _train_rank(rank, world, store_path, out_path)
    # This torch build's gloo leaves a thread joinable that aborts the process in interpreter
    # teardown now and then ("terminate called without an active exception", about 1 run in
    # 15 here), after all the work is done and saved; leave without that teardown. A failure
    # above still raises, and mp.spawn reports it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _train_rank(rank, world, store_path, out_path):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank,
                            world_size=world)
    try:
        data = load_dataset("digits", flatten=True)
        model = _model()
        db = DropBack(model, torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9),
                      budget=BUDGET)
        ddp = nn.parallel.DistributedDataParallel(model)
        for x, y in _batches(data):
            local = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
            db.zero_grad()
            nn.functional.cross_entropy(ddp(x[local]), y[local]).backward()
            db.step()
            check_tracked_in_sync(db)  # raises if any rank's set differs, after every step
        if rank == 0:
            torch.save({"accuracy": _accuracy(model, data), "flat": _flat(model),
                        "tracked": db.tracked_index()}, out_path)
        dist.barrier()  # no rank tears gloo down while a peer may still talk to it
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_ddp_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_rank, args=(2, str(tmp_path / "store"), str(out)), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    accuracy, flat, tracked = _single()
    assert ddp["accuracy"] == pytest.approx(accuracy, abs=0.01)
    torch.testing.assert_close(ddp["flat"], flat, rtol=1e-4, atol=1e-5)
    overlap = len(np.intersect1d(ddp["tracked"].numpy(), tracked.numpy())) / BUDGET
    assert overlap > 0.98  # the same set, but for ties that float sum order may break
