"""Loaded by the test worker (worker_settings): with KRAG_TEST_IMPORT_PAUSE_AFTER=N, an import
announces (by creating KRAG_TEST_IMPORT_STARTED) that it has written N rows inside its
transaction, then sleeps, so the test can kill the worker in the middle of the import."""

import os
import time
from pathlib import Path

from imports.participants import ParticipantImport

PAUSE_AFTER = int(os.environ.get("KRAG_TEST_IMPORT_PAUSE_AFTER") or 0)

if PAUSE_AFTER:
    _write = ParticipantImport.write

    def write(self, number, row):
        _write(self, number, row)
        if self.summary.created == PAUSE_AFTER:
            Path(os.environ["KRAG_TEST_IMPORT_STARTED"]).touch()
            time.sleep(120)

    ParticipantImport.write = write
