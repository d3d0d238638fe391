"""Periodic housekeeping of the API (listed in the beat schedule in config/celery.py)."""

from celery import shared_task

from sync.services import sync_records_purge

from .services import api_tokens_purge_expired, idempotency_keys_purge


@shared_task
def purge_api_state() -> dict:
    """Forget idempotency keys past their retention, expired tokens, and the sync's
    tombstones and scope changes older than any token still accepted; safe to run twice."""
    return {
        "idempotency_keys": idempotency_keys_purge(),
        "tokens": api_tokens_purge_expired(),
        **sync_records_purge(),
    }
