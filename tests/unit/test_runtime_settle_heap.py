"""pult serve settles its start-up heap (pult/runtime.py): what is alive then is out of the cyclic
collector's full passes, and what is made afterwards is still collected."""
from __future__ import annotations

import gc
import weakref

from pult.runtime import settle_heap


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the cyclic collector reclaims it


def test_the_start_up_heap_leaves_the_full_passes_and_later_garbage_is_still_collected():
    started = Node()  # alive at start-up, like a module's or the store's objects
    try:
        frozen = settle_heap()
        assert frozen == gc.get_freeze_count() > 0
        # a full pass walks generations 0-2 only: the start-up object is in none of them
        assert not any(o is started for gen in (0, 1, 2) for o in gc.get_objects(gen))
        later = Node()  # made while calls run, then dropped: still reclaimed
        gone = []
        ref = weakref.ref(later, lambda _: gone.append(True))
        del later
        gc.collect()
        assert gone == [True] and ref() is None
    finally:
        gc.unfreeze()  # the rest of the test session as it was
    assert gc.get_freeze_count() == 0 and any(o is started for o in gc.get_objects(2))
