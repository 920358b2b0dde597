"""A small discrete-event kernel: a heap of (time, priority, seq, event), one RNG per run, no global state.

Events are plain callables. Cancellation is lazy: a handler that may be superseded checks a version it was
scheduled with (see :class:`Timer`). Many simulations can run in one process (or one Ray worker) because
nothing is stored on the class or the module. Chosen over SimPy after measuring both
(``benchmarks/sim_kernel.py``): on chained timed events, the pattern of the serving simulator, this kernel
ran 1.1–1.2× SimPy's events per second, needs no dependency, and its callbacks need no generator
processes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from chipfleet.exceptions import ConfigError

Event = Callable[[], None]


@dataclass
class Simulation:
    """The event loop. ``now`` only moves forward; equal times run by priority, then in schedule order."""

    seed: int = 0
    now: float = 0.0
    rng: np.random.Generator = field(init=False)
    events_run: int = 0
    _heap: list[tuple[float, int, int, Event]] = field(default_factory=list, init=False, repr=False)
    _seq: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number 0 or more, got {self.seed!r}")
        self.rng = np.random.default_rng(self.seed)

    def schedule(self, time: float, event: Event, priority: int = 0) -> None:
        """Run ``event`` at ``time`` (never earlier than now)."""
        if not time >= self.now:  # also refuses NaN, which would corrupt the heap's order
            raise ValueError(f"cannot schedule at {time}: in the past or not a number (now {self.now})")
        self._seq += 1
        heapq.heappush(self._heap, (time, priority, self._seq, event))

    def after(self, delay: float, event: Event, priority: int = 0) -> None:
        self.schedule(self.now + delay, event, priority)

    def run(
        self, until: float = math.inf, progress: Callable[[float], None] | None = None, every: int = 50_000
    ) -> None:
        """Run events in order until the heap is empty or the next event is after ``until``."""
        heap = self._heap
        pop = heapq.heappop
        n = 0
        while heap and heap[0][0] <= until:
            time, _, _, event = pop(heap)
            self.now = time
            event()
            n += 1
            if progress is not None and n % every == 0:
                progress(self.now)
        self.events_run += n
        if until != math.inf and until > self.now:
            self.now = until

    @property
    def pending(self) -> int:
        return len(self._heap)


@dataclass
class Timer:
    """A re-armable event: arming again cancels the previous pending firing (lazy cancellation)."""

    sim: Simulation
    callback: Event
    priority: int = 0
    _version: int = 0
    due: float = math.inf

    def arm(self, time: float) -> None:
        self._version += 1
        version = self._version
        self.due = time

        def fire() -> None:
            if version == self._version:
                self.due = math.inf
                self.callback()

        self.sim.schedule(time, fire, self.priority)

    def cancel(self) -> None:
        self._version += 1
        self.due = math.inf

    @property
    def armed(self) -> bool:
        return self.due != math.inf
