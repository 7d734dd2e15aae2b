"""DropBack under data parallelism (torch.nn.parallel.DistributedDataParallel, started with
torchrun or any launcher that sets up a process group).

Every rank all-reduces the same gradients, steps the same optimizer from the same weights, so
it scores the same |w - w0| and must select the same tracked set: the selection is a pure
function of the scores (ties to the lower index). `check_tracked_in_sync` asserts that after a
step, cheaply: each rank's tracked index is reduced to a 64-bit digest and the digests are
gathered. Build DropBack on the bare model first, then wrap the model in DDP (DropBack re-points
the parameters at one flat buffer; DDP's initial broadcast then copies rank 0's weights into it).
"""

from __future__ import annotations

import torch


class TrackedSetDiverged(RuntimeError):
    """Ranks hold different tracked sets: their weights or gradients differ."""


def tracked_digest(dropback) -> int:
    """A 64-bit digest of the tracked set (sorted global indices), the same on every machine."""
    index = dropback.tracked_index().to("cpu", torch.int64)
    # a polynomial hash mod 2**61 - 1 over the sorted indices, in int64 without overflow
    modulus, base = (1 << 61) - 1, 1_000_003
    digest = index.numel()
    for value in index.tolist():
        digest = (digest * base + value + 1) % modulus
    return digest


def check_tracked_in_sync(dropback, group=None) -> int:
    """Raise TrackedSetDiverged unless every rank of `group` tracks the same set; return the
    digest. Collective: every rank must call it at the same step."""
    import torch.distributed as dist

    digest = tracked_digest(dropback)
    gathered = [None] * dist.get_world_size(group)
    dist.all_gather_object(gathered, (digest, dropback.step_count), group=group)
    if len(set(gathered)) != 1:
        raise TrackedSetDiverged(f"tracked sets differ across ranks (digest, step): {gathered}")
    return digest
