"""The watchdog behind slot timeouts: one thread for every deadline of a process."""

import threading
import time

from jobs.worker.timeouts import Watchdog


def test_deadlines_fire_in_order_in_one_thread():
    dog = Watchdog(name="test-watchdog")
    fired, threads, done = [], set(), threading.Event()

    def action(label):
        def run():
            fired.append(label)
            threads.add(threading.current_thread().name)
            if len(fired) == 3:
                done.set()

        return run

    dog.schedule(0.15, action("late"))
    dog.schedule(0.05, action("early"))
    dog.schedule(0.10, action("middle"))
    assert done.wait(5)
    assert fired == ["early", "middle", "late"] and threads == {"test-watchdog"}


def test_a_cancelled_deadline_never_fires_and_a_failing_action_does_not_stop_the_others():
    dog = Watchdog()
    fired = threading.Event()
    cancelled = dog.schedule(0.05, lambda: fired.set())
    dog.cancel(cancelled)
    dog.schedule(0.02, lambda: 1 / 0)
    later = threading.Event()
    dog.schedule(0.1, later.set)
    assert later.wait(5) and not fired.is_set()


def test_cancelled_deadlines_far_away_do_not_pile_up():
    """A job's timeout is minutes away when it ends in milliseconds: the heap drops them."""
    dog = Watchdog()
    for _ in range(1000):
        dog.cancel(dog.schedule(600, lambda: None))
    keep = dog.schedule(600, lambda: None)
    assert dog.pending() == 1 and len(dog._heap) < 2 * Watchdog.COMPACT_AT
    dog.cancel(keep)


def test_a_deadline_scheduled_sooner_wakes_the_waiting_thread():
    dog = Watchdog()
    dog.schedule(600, lambda: None)
    time.sleep(0.05)  # the thread now waits for the far deadline
    soon = threading.Event()
    dog.schedule(0.02, soon.set)
    assert soon.wait(2)
