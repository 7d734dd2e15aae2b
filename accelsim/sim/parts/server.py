"""A hardware part as a SimPy server: requests wait in order and are served one at a time.

Each part of the accelerator (SRAM banks, DRAM channels, PRNG unit, PE array, update unit) is
one `Server`: a SimPy process that takes requests from an unbounded FIFO queue, holds the part
busy for the request's service time and then fires the request's event. Whoever submitted the
request may wait on that event or go on; contention between requests (a DRAM read of the next
tile queued behind a write-back of the last one) comes out of the queue. The parts whose
service is one timed hold (all but the DRAM port) are `TimedServer`s: the same loop, event for
event, run as callbacks rather than a generator.

A request's event value is ``(finish_cycle, info)``; `info` is whatever the part reports
(accesses, a DramBatch). Service time is computed when service starts, so a part with state
(open DRAM rows) sees requests in the order they are served.
"""

from __future__ import annotations

from collections import deque

import simpy
from simpy.events import NORMAL, URGENT

# Events are made as `simpy.Event(env)`, which is what `env.event()` makes, without the bound
# class that `env.event` builds at every call (a few per event, millions per simulation).


def _hand_over(reader: simpy.Event, item: object) -> None:
    """Trigger a waiting reader with its item (a callback: returns nothing)."""
    reader.succeed(item)


class RequestQueue:
    """An unbounded FIFO of requests with one reader: `simpy.Store`'s behaviour for this use,
    event for event in the order that matters, without its bookkeeping.

    As in `simpy.Store`, a `get` on a non-empty queue is an event triggered at once, and a
    `put` that finds the reader waiting hands it the item through an event processed after the
    ones already scheduled for this instant (the Store's put event, whose callback wakes the
    reader). A put that finds no reader waiting schedules nothing: the Store's put event would
    have woken no one, and dropping an event that does nothing leaves the order of the others
    as it was. So a simulation gives the same cycles, bit for bit, as with `simpy.Store`."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.items: deque = deque()
        self._reader: simpy.Event | None = None

    def put(self, item) -> None:
        reader = self._reader
        if reader is None:
            self.items.append(item)
            return
        self._reader = None
        relay = simpy.Event(self.env)
        relay.callbacks.append(lambda _event: _hand_over(reader, item))
        relay.succeed()

    def put_event(self, item) -> simpy.Event:
        """Put, as `simpy.Store.put` does, for a writer that waits on its put: an event
        triggered at once, whose processing first hands the item to a waiting reader."""
        event = simpy.Event(self.env)
        reader = self._reader
        if reader is None:
            self.items.append(item)
        else:
            self._reader = None
            event.callbacks.append(lambda _event: _hand_over(reader, item))
        event.succeed()
        return event

    def get(self) -> simpy.Event:
        event = simpy.Event(self.env)
        if self.items:
            event.succeed(self.items.popleft())
        else:
            self._reader = event
        return event


class Slots:
    """A count of free buffer slots with one taker: `simpy.Container`'s behaviour for this use
    (whole slots, a put never waits because slots are only given back after being taken),
    event for event in the same order: a take that finds a slot is an event triggered at once;
    a give-back is an event triggered at once whose processing first hands the slot to a
    waiting taker."""

    def __init__(self, env: simpy.Environment, count: int):
        self.env = env
        self.level = int(count)
        self._taker: simpy.Event | None = None

    def get(self) -> simpy.Event:
        event = simpy.Event(self.env)
        if self.level >= 1:
            self.level -= 1
            event.succeed()
        else:
            self._taker = event
        return event

    def put(self) -> simpy.Event:
        self.level += 1
        event = simpy.Event(self.env)
        event.callbacks.append(self._hand_over)
        event.succeed()
        return event

    def _hand_over(self, _event) -> None:
        if self._taker is not None and self.level >= 1:
            taker, self._taker = self._taker, None
            self.level -= 1
            taker.succeed()


def all_done(env: simpy.Environment, events: list[simpy.Event]) -> simpy.Event | None:
    """One event for a tile's requests (events not yet processed): None for none, the event
    itself for one, else an event that succeeds when the last of them is processed. That is
    when `simpy.AllOf` succeeds (the same event, scheduled at the same point), without the
    condition's bookkeeping; its value is None (nobody reads it)."""
    if not events:
        return None
    if len(events) == 1:
        return events[0]
    joined = simpy.Event(env)
    left = len(events)

    def one_done(_event):
        nonlocal left
        left -= 1
        if not left:
            joined.succeed()

    for event in events:
        event.callbacks.append(one_done)
    return joined


class Server:
    """A part whose serving loop is a SimPy process (`_run`): the general form, for a part
    whose service is more than one timed hold (the DRAM port overrides `_run`)."""

    def __init__(self, env: simpy.Environment, name: str):
        self.env = env
        self.name = name
        self.busy_cycles = 0
        self.requests_served = 0
        self._queue = RequestQueue(env)
        env.process(self._run())

    def submit(self, work) -> simpy.Event:
        done = simpy.Event(self.env)
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


class _Call(simpy.Event):
    """An event of `TimedServer`'s schedule, triggered as it is made, with one callback: the
    server's. Only the server ever waits on one, so it needs no environment of its own."""

    def __init__(self, callback, value=None):  # not Event.__init__: no env to keep
        self.callbacks = [callback]
        self._ok = True
        self._value = value


class TimedServer(Server):
    """A part whose service is one hold for the request's cycles (the SRAM banks, the PRNG
    unit, the compute units): `Server`'s loop, event for event, as callbacks instead of a SimPy
    process (a generator resumed at each of its events: half of a simulation's events are
    these parts').

    Every event `Server` schedules is scheduled here too, at the same point and with the same
    priority and delay, so SimPy processes them in the same order and a simulation gives the
    same cycles, bit for bit: the process's start (urgent), then per request the queue's relay
    event when the server is waiting for work (`RequestQueue.put`), the get event that hands
    the request over (its service starts when that is processed), the hold (a timeout) and the
    request's done event, then the next get. Only the resumption of a generator is saved."""

    def __init__(self, env: simpy.Environment, name: str):
        self.env = env
        self.name = name
        self.busy_cycles = 0
        self.requests_served = 0
        self._items: deque = deque()
        self._waiting = False  # the process's get found the queue empty (it is the reader)
        self._held: tuple = ()  # (done, info, cycles) of the request being held
        env.schedule(_Call(self._next), URGENT)  # the process's Initialize event

    def submit(self, work) -> simpy.Event:
        done = simpy.Event(self.env)
        if self._waiting:  # RequestQueue.put to a waiting reader: a relay event
            self._waiting = False
            self.env.schedule(_Call(self._hand_over, (work, done)))
        else:
            self._items.append((work, done))
        return done

    def _hand_over(self, relay: _Call) -> None:
        """The relay's processing succeeds the reader's get event."""
        self.env.schedule(_Call(self._start, relay._value))

    def _next(self, _event=None) -> None:
        """The loop's `yield queue.get()`: a get event triggered at once with the next
        request, or wait as the queue's reader."""
        if self._items:
            self.env.schedule(_Call(self._start, self._items.popleft()))
        else:
            self._waiting = True

    def _start(self, got: _Call) -> None:
        work, done = got._value
        env = self.env
        cycles, info = self.service(work, env.now)
        cycles = int(cycles)
        if cycles > 0:
            self._held = (done, info, cycles)
            env.schedule(_Call(self._release), NORMAL, cycles)  # the hold's timeout
        else:
            self._finish(done, info)

    def _release(self, _timeout: _Call) -> None:
        done, info, cycles = self._held
        self.busy_cycles += cycles
        self._finish(done, info)

    def _finish(self, done: simpy.Event, info) -> None:
        self.requests_served += 1
        done.succeed((self.env.now, info))
        self._next()
