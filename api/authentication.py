"""Device tokens (django-rest-knox), checked with one query per request."""

from django.utils import timezone
from knox import auth
from knox.signals import token_expired


class TokenAuthentication(auth.TokenAuthentication):
    """knox's token check, without its sweep of the user's other tokens on every request.

    knox loads every token of the user on each request to delete the expired ones among them:
    a query per request, and one that grows with every device the user ever signed in on. The
    periodic job `api.tasks.purge_api_state` deletes expired tokens instead; the token in hand
    is still refused, and deleted, once it has expired (as knox does).
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False
