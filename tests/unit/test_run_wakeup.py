"""Run daemons wake on events and take free worker slots in turn (reconcilers/run/wakeup.py)."""

from __future__ import annotations

import asyncio

import kopf

from prazium_operator.reconcilers.run.wakeup import Wakeups


class Slots:
    def __init__(self, free: int) -> None:
        self.free = free

    def count(self) -> int:
        return self.free


def stopper() -> kopf.DaemonStopped:
    """What kopf hands an async daemon as `stopped` (never set here)."""
    from kopf._cogs.aiokits.aioenums import AsyncFlagWaiter, FlagSetter

    return AsyncFlagWaiter(FlagSetter())


def test_an_event_of_the_run_wakes_its_sleeping_daemon_at_once() -> None:
    async def scenario() -> float:
        hub = Wakeups(Slots(0).count)
        hub.register(("ns", "a"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        loop.call_later(0.05, hub.wake, ("ns", "a"))
        await hub.wait(("ns", "a"), 30.0, stopper())
        return loop.time() - started

    assert asyncio.run(scenario()) < 5.0  # not the 30 s safety interval


def test_a_sleeping_daemon_wakes_after_its_timeout_without_any_event() -> None:
    async def scenario() -> None:
        hub = Wakeups(Slots(0).count)
        hub.register(("ns", "a"))
        await asyncio.wait_for(hub.wait(("ns", "a"), 0.05, stopper()), 10.0)

    asyncio.run(scenario())


def test_free_slots_are_offered_to_waiting_runs_in_turn_first_come_first_served() -> None:
    async def scenario() -> None:
        slots = Slots(0)
        hub = Wakeups(slots.count)
        runs = [("ns", name) for name in "abcd"]
        for key in runs:
            hub.register(key)
            hub.want_slot(key)

        def woken() -> list[str]:
            found = [key[1] for key in runs if hub._events[key].is_set()]
            for key in runs:
                hub._events[key].clear()
            return found

        assert woken() == []  # no slot free: nobody wakes
        slots.free = 2
        hub.round_done(("ns", "x"))  # another run's round freed two slots
        assert woken() == ["a", "b"]  # one per free slot, in order
        slots.free = 1
        hub.round_done(("ns", "b"))  # b took its slot, a has not looked yet
        assert woken() == []  # a's offer still stands for the one free slot
        slots.free = 0
        hub.want_slot(("ns", "a"))  # a found the slot gone: it keeps its place
        slots.free = 1
        hub.round_done(("ns", "y"))
        assert woken() == ["a"]
        assert hub.waiting == 2
        hub.unregister(("ns", "c"))
        assert hub.waiting == 1

    asyncio.run(scenario())


def test_a_run_knows_whether_other_runs_wait_for_a_slot_not_counting_itself() -> None:
    # reconcilers/run/prestart.py creates no Job ahead while others' ready tasks wait.
    hub = Wakeups(Slots(0).count)
    mine, other = ("ns", "a"), ("ns", "b")
    for key in (mine, other):
        hub.register(key)
    assert not hub.others_waiting(mine)
    hub.want_slot(mine)
    assert not hub.others_waiting(mine)  # only itself waits
    assert hub.others_waiting(other)
    hub.want_slot(other)
    assert hub.others_waiting(mine)
    hub.unregister(other)
    assert not hub.others_waiting(mine)
