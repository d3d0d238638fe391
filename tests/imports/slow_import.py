"""Loaded by the test worker (worker_settings): with KRAG_TEST_IMPORT_PAUSE_AFTER=N, an import
writes in batches of N / 2 rows and, once it has written N rows inside its transaction,
announces it (by creating KRAG_TEST_IMPORT_STARTED) and sleeps, so the test can kill the
worker in the middle of the import."""

import os
import time
from pathlib import Path

from imports import participants
from imports.participants import ParticipantImport

PAUSE_AFTER = int(os.environ.get("KRAG_TEST_IMPORT_PAUSE_AFTER") or 0)

if PAUSE_AFTER:
    participants.BATCH = max(1, PAUSE_AFTER // 2)
    _flush = ParticipantImport._flush

    def _flush_then_pause(self):
        _flush(self)
        if self.summary.created >= PAUSE_AFTER and not getattr(self, "paused", False):
            self.paused = True
            Path(os.environ["KRAG_TEST_IMPORT_STARTED"]).touch()
            time.sleep(120)

    ParticipantImport._flush = _flush_then_pause

# With KRAG_TEST_CHECK_PAUSE_AFTER=N, a large upload's check (in the worker) announces at row N
# that it is half-way, the same way, and sleeps.
CHECK_PAUSE_AFTER = int(os.environ.get("KRAG_TEST_CHECK_PAUSE_AFTER") or 0)

if CHECK_PAUSE_AFTER:
    from imports.engine import Mode

    _check = ParticipantImport.check

    def check_then_pause(self, number, data):
        row = _check(self, number, data)
        if self.mode is Mode.CHECK and number == CHECK_PAUSE_AFTER + 1:  # the header is row 1
            Path(os.environ["KRAG_TEST_IMPORT_STARTED"]).touch()
            time.sleep(120)
        return row

    ParticipantImport.check = check_then_pause
