"""Sign in, sign out and password reset by e-mail: Django's views with the staff templates."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy


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


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "staff/auth/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "staff/auth/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "staff/auth/password_reset_complete.html"
