"""Periodic housekeeping of the API (listed in the beat schedule in config/celery.py)."""

from celery import shared_task

from .services import api_tokens_purge_expired, idempotency_keys_purge


@shared_task
def purge_api_state() -> dict:
    """Forget idempotency keys past their retention and expired tokens; safe to run twice."""
    return {
        "idempotency_keys": idempotency_keys_purge(),
        "tokens": api_tokens_purge_expired(),
    }
