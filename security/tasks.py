"""Celery tasks of the security app. They take plain values and hold no rules."""

from celery import shared_task
from django.contrib.auth.forms import PasswordResetForm
from django.utils import translation

EMAIL_TEMPLATE = "staff/auth/password_reset_email.txt"
SUBJECT_TEMPLATE = "staff/auth/password_reset_subject.txt"


@shared_task(name="security.tasks.send_password_reset")
def send_password_reset(email: str, domain: str, use_https: bool, language: str) -> None:
    """E-mail a reset link to the active accounts with this address (none: nothing is sent).

    Run by a worker, not the request: whether the address is known shows neither in the
    answer nor in its timing, and a stalled mail server holds no request.
    """
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    with translation.override(language):
        form.save(
            domain_override=domain,
            use_https=use_https,
            email_template_name=EMAIL_TEMPLATE,
            subject_template_name=SUBJECT_TEMPLATE,
        )
