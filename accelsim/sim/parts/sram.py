"""On-chip SRAM: banks of a fixed width, one access per bank per cycle.

A request is a set of streams, each a run of consecutive bank-width words ``(first_word,
words)``; word ``a`` lives in bank ``a mod banks``. All streams of a request are issued together,
so the request takes as many cycles as its busiest bank has accesses (bank conflicts), plus the
read latency. The per-bank counts are computed in bulk with numpy, never word by word.
"""

from __future__ import annotations

import numpy as np
import simpy

from accelsim.config.accelerator import SramConfig
from accelsim.sim.parts.server import TimedServer


def stream_bank_loads(streams, banks: int) -> np.ndarray:
    """Accesses per bank of a set of ``(first_word, words)`` streams."""
    loads = np.zeros(banks, dtype=np.int64)
    bank_ids = np.arange(banks, dtype=np.int64)
    for first, words in streams:
        if words <= 0:
            continue
        full, rest = divmod(int(words), banks)
        loads += full
        if rest:  # the `rest` banks after `first` get one more
            loads += ((bank_ids - int(first)) % banks) < rest
    return loads


def address_bank_loads(word_addresses, banks: int) -> np.ndarray:
    """Accesses per bank of arbitrary word addresses (scattered reads or writes)."""
    addresses = np.asarray(word_addresses, dtype=np.int64)
    return np.bincount(addresses % banks, minlength=banks).astype(np.int64)


def _busiest_bank_of_two(streams, banks: int) -> tuple[int, int]:
    """(accesses, busiest bank's accesses) of at most two streams, without numpy: each stream
    gives every bank `full` accesses plus one more to a cyclic window of `rest` banks; the
    busiest bank has both extras when the two windows overlap."""
    accesses = busiest = 0
    windows = []
    for first, words in streams:
        if words <= 0:
            continue
        full, rest = divmod(int(words), banks)
        accesses += int(words)
        busiest += full
        if rest:
            windows.append((int(first) % banks, rest))
    if len(windows) == 2:
        (a, ra), (b, rb) = windows
        overlap = (b - a) % banks < ra or (a - b) % banks < rb
        busiest += 2 if overlap else 1
    elif windows:
        busiest += 1
    return accesses, busiest


class SramBanks(TimedServer):
    """A banked SRAM as a SimPy server. Work: a list of ``(first_word, words)`` streams, or a
    numpy array of word addresses. Info: the number of bank accesses served."""

    def __init__(self, env: simpy.Environment, config: SramConfig, name: str = "sram"):
        super().__init__(env, name)
        self.config = config
        self.accesses = 0

    def cycles_for(self, work) -> tuple[int, int]:
        banks = self.config.banks
        if isinstance(work, np.ndarray):
            loads = address_bank_loads(work, banks)
            accesses, busiest = int(loads.sum()), int(loads.max(initial=0))
        elif len(work) <= 2:
            accesses, busiest = _busiest_bank_of_two(work, banks)
        else:
            loads = stream_bank_loads(work, banks)
            accesses, busiest = int(loads.sum()), int(loads.max())
        if accesses == 0:
            return 0, 0
        return busiest + self.config.latency_cycles, accesses

    def service(self, work, now):
        cycles, accesses = self.cycles_for(work)
        self.accesses += accesses
        return cycles, accesses
