"""Training-cluster scheduling policies (a registry): which waiting job starts on which instance type now.

A policy is a decision function. The simulator (:mod:`chipfleet.sim.training.cluster`) owns the mechanism: it keeps
the waiting jobs in one heap per requested chip count, ordered by the policy's :meth:`Policy.queue_key`
(computed when a job enters or re-enters the queue), and after anything changes it calls
:meth:`Policy.decide` with a read-only :class:`ClusterView` again and again, applying each
:class:`Decision`, until the policy returns ``None``. A decision starts jobs (gang scheduling: all the
chips a job needs, of one type, at once) and, for preemptive policies, preempts running ones first.

Jobs ask for chips. A job that fits on one instance takes just its chips there and shares the node with
other such jobs; a larger one takes whole instances (``⌈chips / chips_per_instance⌉`` of them). Whether a
job fits is :meth:`ClusterView.fits` (and, for preemption, :meth:`ClusterView.fits_after`), never a count
of free instances alone.

Every built-in policy looks only at the head of each chip-count queue (a dozen heads for Philly, whatever
the queue's length), so one decision costs O(chip counts × instance types); the preemptive ones also read
running jobs largest-first through :meth:`ClusterView.running_descending`, lazily, stopping at the first
that cannot help. None reserves capacity for a
large job: a job that does not fit now does not block smaller ones behind it (greedy backfilling), so under
saturation large gangs can wait long.

Third-party policies register with :func:`register_policy` (the :data:`POLICIES` registry) and are checked by
the contract test every plugin family shares (``tests/test_plugin_contract.py``) like the built-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, TypeVar

import numpy as np

from chipfleet.registry import Registry


@dataclass(frozen=True)
class TypeInfo:
    """One instance type of the fleet as a policy sees it. Power is per chip (busy = TDP) plus the host."""

    index: int
    name: str
    chips_per_instance: int
    total_instances: int
    relative_speed: float
    price_usd_per_h: float  # one instance
    chip_busy_w: float
    chip_idle_w: float
    host_w: float  # one instance
    custom_silicon: bool

    def instances_for(self, chips: int) -> int:
        """Instances a job of ``chips`` chips runs on: one (shared) when it fits on one, else whole ones."""
        return -(-chips // self.chips_per_instance)

    def held_chips(self, chips: int) -> int:
        """Chips a job of ``chips`` holds: its own on one instance, or every chip of the instances it needs."""
        c = self.chips_per_instance
        return chips if chips <= c else self.instances_for(chips) * c

    @property
    def price_usd_per_chip_h(self) -> float:
        return self.price_usd_per_h / self.chips_per_instance


class Start(NamedTuple):
    """Start waiting job ``job`` on type ``type_index`` now (its chips on one node, or whole nodes)."""

    job: int
    type_index: int


class Decision(NamedTuple):
    """Preemptions (applied first: the jobs go back to the queue) then starts."""

    starts: tuple[Start, ...] = ()
    preempt: tuple[int, ...] = ()


class Head(NamedTuple):
    """The first waiting job of one chip-count queue."""

    key: float
    job: int
    chips: int


RunningOrder = Literal["work", "remaining"]


class RunningJob(NamedTuple):
    """A running job; ``remaining_ref_s`` is its work left now, in reference seconds at its chip count."""

    job: int
    type_index: int
    instances: int  # nodes it runs on (a single-node job shares its node with others)
    chips: int
    allocated_chips: int  # chips it holds: ``chips`` on one node, or every chip of its whole nodes
    remaining_ref_s: float
    started_s: float  # when this run began (a restart penalty, if any, runs first)
    node_ids: tuple[int, ...] = ()  # the pool nodes it holds chips on


class ClusterView(Protocol):
    """What a policy may read of the cluster (the simulator implements it; nothing here mutates)."""

    @property
    def now(self) -> float: ...

    @property
    def types(self) -> Sequence[TypeInfo]:
        """Instance types in fleet order; ``Start.type_index`` indexes this."""
        ...

    @property
    def free_instances(self) -> Sequence[int]:
        """Wholly free instances per type now (only those this simulation may use)."""
        ...

    @property
    def free_chips(self) -> Sequence[int]:
        """Free chips per type now, on the instances this simulation may use (part-used ones included)."""
        ...

    def fits(self, type_index: int, chips: int) -> bool:
        """Whether a job of ``chips`` can start on the type now: some node has ``chips`` free chips (a job
        that fits on one instance), or enough instances are wholly free (a larger one)."""
        ...

    def fits_after(self, type_index: int, chips: int, preempted: Sequence[int]) -> bool:
        """Whether a job of ``chips`` could start on the type once the running jobs ``preempted`` (those on
        other types are ignored) had given their chips back; O(their nodes)."""
        ...

    @property
    def waiting_count(self) -> int: ...

    @property
    def rng(self) -> np.random.Generator:
        """The run's one random generator (for randomised policies)."""
        ...

    def heads(self) -> list[Head]:
        """The first waiting job of each chip-count queue, in the policy's ``queue_key`` order; O(chip counts)."""
        ...

    def waiting(self) -> Iterator[int]:
        """Every waiting job id, in no particular order; O(queue) — prefer :meth:`heads`."""
        ...

    def job_chips(self, job: int) -> int: ...

    def job_submit_s(self, job: int) -> float: ...

    def job_remaining_ref_s(self, job: int) -> float:
        """Work left, in seconds on the reference type at the job's chip count (as of now if running)."""
        ...

    def running_on(self, type_index: int) -> Iterator[RunningJob]:
        """The jobs running on one type now, in no particular order; O(those jobs)."""
        ...

    def running_descending(self, type_index: int, by: RunningOrder = "work") -> Iterator[RunningJob]:
        """The jobs running on one type, most work left first: ``by="work"`` orders by reference chip-seconds
        (``chips × remaining_ref_s``), ``by="remaining"`` by ``remaining_ref_s``. Lazy: a policy that stops
        after k jobs pays about O(k log n), so preemption searches stay cheap when many jobs run."""
        ...


class Policy(Protocol):
    """The interface every registered policy implements."""

    name: str
    preemptive: bool
    restart_penalty_s: float  # wall seconds a preempted job spends restarting from its checkpoint

    def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
        """Order of a job in its queue (smaller first; ties by job id), when it enters or re-enters it."""
        ...

    def decide(self, view: ClusterView) -> Decision | None:
        """What to do now, or None when nothing (more) should happen at this instant.

        The simulator refuses (``RuntimeError``) a start that does not fit the free instances of its type
        (after the decision's preemptions), a start of a job that is not waiting, and a preemption of a job
        that is not running or started in this same instant (which rules out endless loops).
        """
        ...


PolicyFactory = Callable[..., Policy]
F = TypeVar("F", bound=PolicyFactory)

POLICIES: Registry[PolicyFactory] = Registry("policy")
"""Every training-cluster scheduling policy by name; ``get_policy`` builds one, ``register_policy`` adds one."""


def register_policy(name: str, *, description: str | None = None) -> Callable[[F], F]:
    """Class decorator: register a policy factory under ``name`` (lower case, no spaces: names are looked
    up case-insensitively; the description defaults to the docstring's first paragraph); a second
    registration is refused."""
    add = POLICIES.register(name, description=description)

    def deco(factory: F) -> F:
        add(factory)
        return factory

    return deco


def get_policy(name: str, **options: object) -> Policy:
    """A new policy instance, e.g. ``get_policy("sjf-preemptive", restart_penalty_s=120)``; the name is
    case-insensitive, and a miss says which registered names are close."""
    return POLICIES.get(name)(**options)


def list_policies() -> list[str]:
    """Every policy name, sorted (``POLICIES.entries()`` gives their descriptions too)."""
    return POLICIES.names()


# --- shared helpers -------------------------------------------------------------------------------------


def _fits(view: ClusterView, chips: int) -> list[TypeInfo]:
    return [t for t in view.types if view.fits(t.index, chips)]


def _first_fitting_head(view: ClusterView) -> tuple[Head, list[TypeInfo]] | None:
    """The waiting job first in queue order among those some type has room for, with those types."""
    best: tuple[Head, list[TypeInfo]] | None = None
    for h in view.heads():
        if best is not None and (h.key, h.job) >= (best[0].key, best[0].job):
            continue
        room = _fits(view, h.chips)
        if room:
            best = (h, room)
    return best


def _attributable_power_w(t: TypeInfo, chips: int) -> float:
    """Power a job holds on ``t``: its chips at TDP, the surplus chips it holds idle, and its share of the
    hosts (host power × chips held ÷ chips per instance).

    ``P = g · P_TDP + (held − g) · P_idle + P_host · held / c`` with ``held = g`` on one instance (g ≤ c),
    else every chip of ``⌈g / c⌉`` instances.
    """
    held = t.held_chips(chips)
    return chips * t.chip_busy_w + (held - chips) * t.chip_idle_w + t.host_w * held / t.chips_per_instance


class _Greedy:
    """Queue order by :meth:`queue_key`; the first job some type has room for; the type :meth:`choose`."""

    name = "greedy"
    preemptive = False
    restart_penalty_s = 0.0

    def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
        return submit_s

    def choose(self, view: ClusterView, chips: int, room: list[TypeInfo]) -> TypeInfo:
        return room[0]

    def decide(self, view: ClusterView) -> Decision | None:
        found = _first_fitting_head(view)
        if found is None:
            return None
        head, room = found
        return Decision(starts=(Start(head.job, self.choose(view, head.chips, room).index),))


@register_policy("fifo")
@dataclass
class Fifo(_Greedy):
    """First come, first served, heterogeneity-agnostic: the first fleet type with room (non-blocking)."""

    name = "fifo"


@register_policy("sjf")
@dataclass
class ShortestJobFirst(_Greedy):
    """Least work first (reference chip-seconds ``g · D`` left), on the first fleet type with room."""

    name = "sjf"

    def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
        return chips * remaining_ref_s


@register_policy("cost-min")
@dataclass
class CostMin(_Greedy):
    """Arrival order; each job on the type with room where its work costs least.

    $ per unit of work on ``X`` = ``held_X · price_X / c_X / (g · r_X)``: the chips the job holds there
    (its own on one instance, or every chip of the whole instances a larger job needs) at the instance's
    price per chip, the rate the job is charged (:attr:`ClusterResult.cost_usd`). In a static fleet the bill
    is the same whatever runs where; the choice decides which types do the work.
    """

    name = "cost-min"

    def choose(self, view: ClusterView, chips: int, room: list[TypeInfo]) -> TypeInfo:
        return min(
            room,
            key=lambda t: (t.held_chips(chips) * t.price_usd_per_chip_h / (chips * t.relative_speed), t.index),
        )


@register_policy("energy-aware")
@dataclass
class EnergyAware(_Greedy):
    """Arrival order; each job on the type with room where its work takes the least energy.

    Energy per unit of work on ``X`` = attributable power / ``(g · r_X)``, the power being the job's ``g``
    chips at TDP, the surplus chips it holds at idle, and its share of the hosts (see
    ``_attributable_power_w``; the chip busy-power assumption of :func:`chipfleet.economics.ledger.energy_kwh`;
    PUE is the same factor for all types of one region).
    """

    name = "energy-aware"

    def choose(self, view: ClusterView, chips: int, room: list[TypeInfo]) -> TypeInfo:
        return min(room, key=lambda t: (_attributable_power_w(t, chips) / (chips * t.relative_speed), t.index))


@register_policy("random")
@dataclass
class RandomOrder(_Greedy):
    """Waiting jobs in random order, each on a random type with room (the run's RNG): a baseline."""

    name = "random"

    def queue_key(self, submit_s: float, chips: int, remaining_ref_s: float, rng: np.random.Generator) -> float:
        return float(rng.random())

    def choose(self, view: ClusterView, chips: int, room: list[TypeInfo]) -> TypeInfo:
        return room[int(view.rng.integers(len(room)))]


@register_policy("gavel-max-throughput")
@dataclass
class GavelMaxThroughput(_Greedy):
    """Heterogeneity-aware: greedily maximise the total normalised throughput (Narayanan et al., OSDI 2020).

    Gavel solves an LP over a jobs × accelerator-types throughput matrix, normalising each job's throughput
    by its throughput on its fastest type, and time-shares by rounds. This is a greedy approximation of
    that LP's max-sum-throughput objective without time-sharing: among every (waiting job, type with room)
    pair it starts the one with the highest normalised throughput per chip held,
    ``(r_X / r_max) · g / held_X``, ties going to the earlier-submitted job, then the fleet order. With one
    speed ratio per type (see :mod:`chipfleet.sim.training.throughput`) that fills the fastest types first and prefers
    jobs that use the chips they hold fully (a multi-instance job whose chips do not fill its last instance
    ranks lower).
    """

    name = "gavel-max-throughput"

    def decide(self, view: ClusterView) -> Decision | None:
        types = view.types
        fastest = max(t.relative_speed for t in types)
        best: tuple[float, float, int, int] | None = None
        for h in view.heads():
            for t in types:
                if not view.fits(t.index, h.chips):
                    continue
                cand = (-t.relative_speed / fastest * h.chips / t.held_chips(h.chips), h.key, h.job, t.index)
                if best is None or cand < best:
                    best = cand
        if best is None:
            return None
        return Decision(starts=(Start(best[2], best[3]),))


@register_policy("sjf-preemptive")
@dataclass
class ShortestJobFirstPreemptive(ShortestJobFirst):
    """Shortest remaining work first, preemptive (SRTF over gangs).

    When no waiting job fits, the queue heads are tried in order: a head preempts jobs running on one type
    whose remaining work (reference chip-seconds) is larger than its own, most work first, until its gang
    fits (:meth:`ClusterView.fits_after`), then spares those whose chips turned out not to be needed (the
    least work first); of the types where that works, the one needing the fewest preemptions (then fleet
    order) is used.
    A preempted job is checkpointed where it is (no work lost) and pays ``restart_penalty_s`` of wall time,
    holding its instances without computing, when it next starts.
    """

    name = "sjf-preemptive"
    preemptive = True
    restart_penalty_s: float = 60.0

    def decide(self, view: ClusterView) -> Decision | None:
        plain = super().decide(view)
        if plain is not None:
            return plain
        now = view.now
        # Per type, the most work a preemptible job (one not started this instant) has left: a head with at
        # least that much work cannot preempt there.
        tops = [0.0] * len(view.types)
        for t in view.types:
            for r in view.running_descending(t.index, "work"):
                if r.started_s < now:
                    tops[t.index] = r.chips * r.remaining_ref_s
                    break
        longest = max(tops)
        for h in sorted(view.heads(), key=lambda h: (h.key, h.job)):
            if h.key >= longest:
                break
            best: tuple[int, int, list[int]] | None = None
            for t in view.types:
                if h.chips > t.total_instances * t.chips_per_instance or tops[t.index] <= h.key:
                    continue
                victims: list[int] = []
                enough = False
                for r in view.running_descending(t.index, "work"):
                    if r.chips * r.remaining_ref_s <= h.key:
                        break
                    if r.started_s < now:
                        victims.append(r.job)
                        if view.fits_after(t.index, h.chips, victims):
                            enough = True
                            break
                if not enough:
                    continue
                # Spare the victims (least work first) whose chips the head does not need after all.
                for job in victims[-2::-1]:
                    rest = [v for v in victims if v != job]
                    if view.fits_after(t.index, h.chips, rest):
                        victims = rest
                if best is None or len(victims) < best[0]:
                    best = (len(victims), t.index, victims)
                    if len(victims) == 1:
                        break  # no type can do with fewer
            if best is not None:
                return Decision(starts=(Start(h.job, best[1]),), preempt=tuple(best[2]))
        return None


@register_policy("gavel-max-throughput-preemptive")
@dataclass
class GavelMaxThroughputPreemptive(GavelMaxThroughput):
    """gavel-max-throughput, plus migration to faster types (Gavel re-allocates every round).

    When no waiting job fits and a faster type has room, the running job on a slower type that would gain
    the most wall time moves there (checkpoint, ``restart_penalty_s`` of restart, continue at the faster
    speed), provided it then finishes sooner: ``remaining / r_slow > restart_penalty_s + remaining / r_fast``.
    """

    name = "gavel-max-throughput-preemptive"
    preemptive = True
    restart_penalty_s: float = 60.0

    def decide(self, view: ClusterView) -> Decision | None:
        plain = super().decide(view)
        if plain is not None:
            return plain
        types = view.types
        free = view.free_chips
        best: tuple[float, int, int] | None = None
        for fast in types:
            if free[fast.index] == 0:
                continue
            for slow in types:
                if slow.relative_speed >= fast.relative_speed:
                    continue
                # The gain grows with the work left, so the first job that fits is this pair's best.
                for r in view.running_descending(slow.index, "remaining"):
                    gain = r.remaining_ref_s / slow.relative_speed - (
                        self.restart_penalty_s + r.remaining_ref_s / fast.relative_speed
                    )
                    if gain <= 0:
                        break
                    if r.started_s >= view.now or not view.fits(fast.index, r.chips):
                        continue
                    cand = (-gain, r.job, fast.index)
                    if best is None or cand < best:
                        best = cand
                    break
        if best is None:
            return None
        return Decision(starts=(Start(best[1], best[2]),), preempt=(best[1],))
