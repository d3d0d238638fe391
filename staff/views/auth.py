"""Sign in, sign out and password reset by e-mail: Django's views with the staff templates."""

import logging

from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.translation import get_language

from security import tasks as security_tasks

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "staff/auth/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "staff/auth/password_reset.html"
    email_template_name = "staff/auth/password_reset_email.txt"
    subject_template_name = "staff/auth/password_reset_subject.txt"
    success_url = reverse_lazy("staff:password_reset_done")

    def form_valid(self, form):
        # The same work for a known and an unknown address: hand the address to a worker, which
        # looks it up and sends the mail (security/tasks.py). Without a broker it runs here.
        try:
            security_tasks.send_password_reset.apply_async(
                (
                    form.cleaned_data["email"],
                    self.request.get_host(),
                    self.request.is_secure(),
                    get_language(),
                ),
                retry=False,
            )
        except Exception:  # noqa: BLE001 - a broker down loses this mail; the user asks again
            logger.warning("Could not queue a password reset e-mail", exc_info=True)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "staff/auth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "staff/auth/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "staff/auth/password_reset_complete.html"
