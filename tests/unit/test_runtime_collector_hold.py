"""The call engine holds the cyclic collector off between a call's connect and its first command
(pult/runtime.py CollectorHold): on while any call waits for it, back on after, bounded in time,
and never touching a collector someone else switched off."""
from __future__ import annotations

import gc

import pytest

from pult.runtime import CollectorHold


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_while_any_call_holds_it_and_back_on_when_the_last_releases():
    hold = CollectorHold(max_hold=0.05, clock=Clock())
    first, second = hold.take(), hold.take()
    assert first is not None and second is not None
    assert not gc.isenabled()
    first.release()
    first.release()  # released twice (the write and the flow's end): counted once
    assert not gc.isenabled()
    second.release()
    assert gc.isenabled()
    assert (hold.taken, hold.refused) == (2, 0)


def test_a_burst_longer_than_the_bound_switches_the_collector_back_on_until_the_holds_are_gone():
    clock = Clock()
    hold = CollectorHold(max_hold=0.05, clock=clock)
    first = hold.take()
    clock.now += 0.06  # calls kept coming for longer than 50 ms without a gap
    assert hold.take() is None and gc.isenabled()
    clock.now += 0.001
    assert hold.take() is None and gc.isenabled()  # no new holds until the burst is over
    first.release()
    assert gc.isenabled()
    again = hold.take()  # the burst is over: calls hold it again
    assert again is not None and not gc.isenabled()
    again.release()
    assert gc.isenabled() and (hold.taken, hold.refused) == (2, 2)


def test_a_collector_switched_off_by_someone_else_is_left_off():
    hold = CollectorHold(clock=Clock())
    gc.disable()
    assert hold.take() is None
    assert not gc.isenabled()
