"""asyncio side of simloop's conformance scenarios.

Each scenario script builds a loop with new_loop(), runs a program, and calls
log(msg) for every event. log prints "<virtual microseconds> <msg>", the same
format the C++ side produces, so the two logs compare line by line.

The loop runs on virtual time: its selector jumps the clock by the timeout
instead of sleeping (as the benchmark anchor does). Timers due at the same
instant fire in arming order here, as in simloop (CPython's heap compares
deadlines only; DESIGN.md §1 explains the difference), by stamping each timer
with a sequence number.
"""
import asyncio
import heapq
import itertools
import selectors
import sys
from asyncio import events

_current = None


class _VirtualSelector(selectors.DefaultSelector):
    loop = None

    def select(self, timeout=None):
        if timeout is not None and timeout > 0:
            self.loop._virtual_time += timeout
        return super().select(0)


class _SequencedTimer(events.TimerHandle):
    __slots__ = ("_seq",)

    def __lt__(self, other):
        return (self._when, self._seq) < (other._when, other._seq)

    def __le__(self, other):
        return (self._when, self._seq) <= (other._when, other._seq)

    def __gt__(self, other):
        return (self._when, self._seq) > (other._when, other._seq)

    def __ge__(self, other):
        return (self._when, self._seq) >= (other._when, other._seq)


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self._virtual_time = 0.0
        self._timer_seq = itertools.count()
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self):
        return self._virtual_time

    def call_at(self, when, callback, *args, context=None):
        self._check_closed()
        timer = _SequencedTimer(when, callback, args, self, context)
        timer._seq = next(self._timer_seq)
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer


def new_loop():
    global _current
    _current = VirtualLoop()
    asyncio.set_event_loop(_current)
    return _current


def log(msg):
    print(f"{round(_current.time() * 1e6)} {msg}")
    sys.stdout.flush()
