"""The simulator's faster SimPy pieces against the SimPy forms they replace: the same requests
give the same timeline, and the same order among clients resumed at the same cycle (the order
that decides which request a shared part serves first).

Each scenario: a few client processes, each a random list of steps (wait some cycles, submit a
request to one of two shared parts and wait for it, submit two and wait for both, submit one
and go on); every time a client resumes it logs (cycle, client, step). The logs of the two
forms must be equal, entry for entry."""

import random

import numpy as np
import pytest
import simpy

from accelsim.sim.mapping.folds import BlockGrid
from accelsim.sim.parts.environment import Environment
from accelsim.sim.parts.server import Server, TimedServer, all_done


class _ProcessHold(Server):
    """`Server`'s SimPy-process loop, holding the part for `work` cycles."""

    def service(self, work, now):
        return work, work


class _CallbackHold(TimedServer):
    def service(self, work, now):
        return work, work


def _scenario(seed, clients=4, steps=30):
    rng = random.Random(seed)
    plan = []
    for _ in range(clients):
        plan.append([(rng.choice(["wait", "one", "both", "forget"]), rng.randrange(2),
                      rng.choice([0, 0, 1, 2, 3, 5]), rng.choice([0, 1, 2, 3]))
                     for _ in range(steps)])
    return plan


def _timeline(plan, env, server, join):
    parts = [server(env, "a"), server(env, "b")]
    log = []

    def client(name, steps):
        for number, (kind, part, cycles, other) in enumerate(steps):
            if kind == "wait":
                yield env.timeout(cycles)
            elif kind == "one":
                yield parts[part].submit(cycles)
            elif kind == "both":
                yield join(env, [parts[part].submit(cycles), parts[1 - part].submit(other)])
            else:  # submit and go on: the part is busy for someone else
                parts[part].submit(cycles)
            log.append((env.now, name, number))

    for name, steps in enumerate(plan):
        env.process(client(name, steps))
    env.run()
    return log, [(p.busy_cycles, p.requests_served) for p in parts]


def _simpy_all_of(env, events):
    return simpy.AllOf(env, events)


@pytest.mark.parametrize("seed", range(40))
def test_callback_server_join_and_loop_keep_simpys_order(seed):
    plan = _scenario(seed)
    reference = _timeline(plan, simpy.Environment(), _ProcessHold, _simpy_all_of)
    assert len(reference[0]) == sum(len(steps) for steps in plan)
    assert _timeline(plan, simpy.Environment(), _CallbackHold, _simpy_all_of) == reference
    assert _timeline(plan, simpy.Environment(), _ProcessHold, all_done) == reference
    assert _timeline(plan, Environment(), _CallbackHold, all_done) == reference


def test_the_order_is_observable():
    """The check above can fail: a server that starts its service one event earlier (without
    the queue's relay) changes which client a tie at the same cycle resumes first."""

    class _Hasty(_CallbackHold):
        def submit(self, work):
            if self._waiting:
                self._waiting = False
                done = self.env.event()
                self._start(_Got(work, done))
                return done
            return super().submit(work)

    class _Got:
        def __init__(self, work, done):
            self._value = (work, done)

    differs = sum(_timeline(plan, simpy.Environment(), _Hasty, all_done)
                  != _timeline(plan, simpy.Environment(), _ProcessHold, all_done)
                  for plan in map(_scenario, range(40)))
    assert differs > 0


def test_environment_run_until_is_simpys():
    env = Environment()
    env.timeout(3)
    env.run(until=2)
    assert env.now == 2
    env.run()
    assert env.now == 3


def test_environment_raises_an_unhandled_failure():
    env = Environment()
    env.event().fail(ValueError("broken part"))
    with pytest.raises(ValueError, match="broken part"):
        env.run()


@pytest.mark.parametrize("k_major", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_block_counts_are_the_channels_first_sums(seed, k_major):
    rng = np.random.default_rng(seed)
    cout, kw = int(rng.integers(1, 70)), int(rng.integers(1, 90))
    mask = rng.random((cout, kw)) < rng.random()
    channel_starts = np.unique(np.r_[0, rng.integers(0, cout, 3)]).astype(np.int64)
    k_starts = np.unique(np.r_[0, rng.integers(0, kw, 4)]).astype(np.int64)
    grid = BlockGrid(cout, kw, 1, channel_starts, k_starts, k_major, np.zeros(1, np.int64))
    by_channel = np.add.reduceat(mask, channel_starts, axis=0, dtype=np.int64)
    expected = np.add.reduceat(by_channel, k_starts, axis=1, dtype=np.int64)
    assert grid.block_counts(mask).dtype == np.int64
    assert np.array_equal(grid.block_counts(mask), expected)
    assert np.array_equal(grid.counts(mask), grid.order(expected))
