"""Fault injection for the reliability tests, loaded by worker processes through
CONVEYOR_TASK_MODULES: with CONVEYOR_TEST_DIE_AFTER_TAKE set, a worker kills itself (SIGKILL)
after it took jobs off Redis, at the moment it would claim their rows (one job, or a batch)."""

import os
import signal

from jobs.store import transitions

if os.environ.get("CONVEYOR_TEST_DIE_AFTER_TAKE"):

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    transitions.claim = die
    transitions.claim_many = die
