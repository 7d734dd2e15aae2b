"""A small model and a seeded step loop, shared by the tests of the training methods."""

import torch
from torch import nn


def small_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))


def run_steps(method, model, n, seed=0):
    """`n` steps of `method` on random batches drawn from `seed`; the step statistics."""
    gen = torch.Generator().manual_seed(seed)
    stats = []
    for _ in range(n):
        x, y = torch.randn(32, 12, generator=gen), torch.randint(0, 4, (32,), generator=gen)
        method.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        stats.append(method.step())
    return stats
