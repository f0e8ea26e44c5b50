"""Fault injection for the reliability tests, loaded by worker processes through
CONVEYOR_TASK_MODULES: with CONVEYOR_TEST_DIE_AFTER_TAKE set, a worker kills itself (SIGKILL)
right after it took its first job off Redis and before its row is claimed."""

import os
import signal

from jobs.worker import ConveyorWorker

if os.environ.get("CONVEYOR_TEST_DIE_AFTER_TAKE"):

    def die_after_take(self, job, queue):
        os.kill(os.getpid(), signal.SIGKILL)

    ConveyorWorker.execute_job = die_after_take
