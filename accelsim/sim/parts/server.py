"""A hardware part as a SimPy server: requests wait in order and are served one at a time.

Each part of the accelerator (SRAM banks, DRAM channels, PRNG unit, PE array, update unit) is
one `Server`: a SimPy process that takes requests from an unbounded FIFO `simpy.Store`, holds
the part busy for the request's service time and then fires the request's event. Whoever
submitted the request may wait on that event or go on; contention between requests (a DRAM
read of the next tile queued behind a write-back of the last one) comes out of the queue.

A request's event value is ``(finish_cycle, info)``; `info` is whatever the part reports
(accesses, a DramBatch). Service time is computed when service starts, so a part with state
(open DRAM rows) sees requests in the order they are served.
"""

from __future__ import annotations

import simpy


class Server:
    def __init__(self, env: simpy.Environment, name: str):
        self.env = env
        self.name = name
        self.busy_cycles = 0
        self.requests_served = 0
        self._queue = simpy.Store(env)
        env.process(self._run())

    def submit(self, work) -> simpy.Event:
        done = self.env.event()
        self._queue.put((work, done))
        return done

    def service(self, work, now: float):
        """(cycles, info) of serving `work` from cycle `now`; parts override this."""
        raise NotImplementedError

    def _run(self):
        while True:
            work, done = yield self._queue.get()
            cycles, info = self.service(work, self.env.now)
            cycles = int(cycles)
            if cycles > 0:
                yield self.env.timeout(cycles)
                self.busy_cycles += cycles
            self.requests_served += 1
            done.succeed((self.env.now, info))
