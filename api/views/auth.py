"""Signing a device in and out with a token (django-rest-knox: stored hashed, expiring)."""

from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from security.two_factor import code_problem_for_token_login

from ..authentication import TokenAuthentication
from ..conditional import IDEMPOTENCY_HEADER, ConditionalRequestsMixin
from ..serializers.clinics import MeSerializer
from ..services import api_token_issue, api_token_revoke
from ..throttling import LoginThrottle


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, style={"input_type": "password"}, trim_whitespace=False
    )
    otp_token = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="The current code of an authenticator app, for users with two-factor sign-in.",
    )

    def validate(self, attrs):
        user = authenticate(
            self.context.get("request"), username=attrs["username"], password=attrs["password"]
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                _("Unable to sign in with this username and password."), code="authorization"
            )
        problem = code_problem_for_token_login(user, attrs.get("otp_token", ""))
        if problem:
            raise serializers.ValidationError({"otp_token": [problem]}, code="authorization")
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send as "Authorization: Token <token>".')
    expiry = serializers.DateTimeField(allow_null=True)
    user = MeSerializer()


class LoginView(ConditionalRequestsMixin, APIView):
    """Sign in with username and password; answers a token for the Authorization header.

    With an Idempotency-Key, a retried sign-in (the answer was lost) gets the same token back
    rather than a second one; the stored answer is encrypted."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]
    idempotency_sealed = True

    @extend_schema(
        summary="Sign in: username and password → a token",
        request=LoginSerializer,
        responses={200: TokenSerializer},
        auth=[],
    )
    def post(self, request):
        serializer = LoginSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        self.claim_idempotency_key(request, user)  # replays the first answer to a retry
        instance, token = api_token_issue(user=user)
        data = {"token": token, "expiry": instance.expiry, "user": user}
        return Response(TokenSerializer(data).data)


class LogoutView(ConditionalRequestsMixin, APIView):
    """Sign this device out: its token is revoked at once.

    A retry with the same Idempotency-Key after the token is gone answers 204 again (the
    device is signed out either way) rather than 401."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        try:
            request.user  # noqa: B018  (authenticates)
        except AuthenticationFailed:
            if not request.headers.get(IDEMPOTENCY_HEADER):
                raise
            request.user, request.auth = AnonymousUser(), None  # a retry: see post()

    @extend_schema(
        summary="Sign out: revoke the token of this request", request=None, responses={204: None}
    )
    def post(self, request):
        if not request.user.is_authenticated:
            if request.headers.get(IDEMPOTENCY_HEADER) and request.headers.get("Authorization"):
                return Response(
                    status=status.HTTP_204_NO_CONTENT, headers={"Idempotent-Replayed": "true"}
                )
            raise NotAuthenticated()
        api_token_revoke(token=request.auth, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
