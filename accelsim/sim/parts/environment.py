"""The SimPy environment the machine runs on: `simpy.Environment`, with its run to the end
(``run()``, no ``until``) as one loop rather than a `step()` call per event.

A simulation is millions of events, and SimPy's `run` calls `step` for each (a method call, a
try block); the loop below is `step`'s body in place, so it processes the same events in the
same order with the same effects: pop the earliest (time, priority, schedule order), run its
callbacks, stop on a failed event nobody handled.
"""

from __future__ import annotations

from heapq import heappop
from typing import Any

import simpy


class Environment(simpy.Environment):
    def run(self, until=None):
        if until is not None:  # SimPy's own loop for the other stopping rules
            return super().run(until)
        queue: list[tuple[Any, Any, Any, Any]] = self._queue  # (time, priority, order, event)
        while queue:
            self._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                raise event._value
        return None
