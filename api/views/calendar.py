"""A user's upcoming sessions as an iCalendar (RFC 5545) feed at a secret, revocable address.

The feed carries no participant data: group, times, room and status only.
"""

import datetime

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from icalendar import Calendar, Event
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions.models import Session

from ..conditional import ConditionalRequestsMixin
from ..models import CalendarFeedToken
from ..services import calendar_feed_issue, calendar_feed_revoke
from ..throttling import UserWriteThrottle

NO_STORE = {"Cache-Control": "no-store"}
PAST = datetime.timedelta(days=30)
AHEAD = datetime.timedelta(days=366)
MAX_EVENTS = 1000
STATUS = {
    Session.Status.SCHEDULED: "CONFIRMED",
    Session.Status.HELD: "CONFIRMED",
    Session.Status.NOT_HELD: "CANCELLED",
    Session.Status.CANCELLED: "CANCELLED",
}


def calendar_for(user) -> bytes:
    now = timezone.now()
    sessions = (
        Session.objects.for_user(user)
        .facilitated_by(user)
        .filter(starts_at__gte=now - PAST, starts_at__lt=now + AHEAD)
        .select_related("institution", "group", "room__site")
        .order_by("starts_at", "id")[:MAX_EVENTS]
    )
    cal = Calendar()
    cal.add("prodid", "-//Krąg//Support group sessions//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Krąg")
    for session in sessions:
        tz = session.institution.tzinfo
        event = Event()
        event.add("uid", f"session-{session.pk}@krag")  # stable whatever the host name
        event.add("dtstamp", now)
        event.add("last-modified", session.updated_at)
        event.add("dtstart", timezone.localtime(session.starts_at, tz))
        event.add("dtend", timezone.localtime(session.ends_at, tz))
        event.add("summary", f"{session.group.name} #{session.sequence}")
        event.add("status", STATUS.get(session.status, "CONFIRMED"))
        if session.room_id:
            event.add("location", f"{session.room.name}, {session.room.site.name}")
        if session.online_link:
            event.add("url", session.online_link)
        if session.theme:
            event.add("description", session.theme)
        cal.add_component(event)
    # Only the years the feed covers: the VTIMEZONE stays small and exact.
    cal.add_missing_timezones(
        first_date=(now - PAST - datetime.timedelta(days=2)).date(),
        last_date=(now + AHEAD + datetime.timedelta(days=2)).date(),
    )
    return cal.to_ical()


class CalendarFeedView(APIView):
    """The feed itself; the secret in the address is the only credential."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Your upcoming sessions as iCalendar (subscribe from a calendar app)",
        description="Create the address with `POST me/calendar/`, revoke it with "
        "`DELETE me/calendar/`. Times carry the institution's time zone (TZID + VTIMEZONE).",
        auth=[],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                response=OpenApiTypes.STR, description="RFC 5545"
            )
        },
    )
    def get(self, request, secret: str):
        token = (
            CalendarFeedToken.objects.filter(
                digest=CalendarFeedToken.digest_of(secret), revoked_at__isnull=True
            )
            .select_related("user")
            .first()
        )
        if token is None or not token.user.is_active:
            raise NotFound()
        CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        body = calendar_for(token.user)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="krag.ics"'
        response["Cache-Control"] = "private, max-age=300"
        return response


class CalendarAddressView(ConditionalRequestsMixin, APIView):
    """The secret address of your calendar feed: read, create (or replace) and revoke it.

    A retried `POST` with the same Idempotency-Key answers the address it made the first time
    instead of replacing it again (which would stop the address just returned)."""

    throttle_classes = [UserWriteThrottle]
    idempotency_sealed = True

    @extend_schema(
        summary="The current secret address of your calendar feed (404 if there is none)",
        responses={200: inline_serializer("CalendarFeedAddress", {"url": serializers.URLField()})},
    )
    def get(self, request):
        # Addresses made before their secret was kept cannot be shown again.
        token = (
            CalendarFeedToken.objects.filter(user=request.user, revoked_at__isnull=True)
            .exclude(secret="")  # nosec B106  (an empty value, not a password)
            .order_by("-created_at")
            .first()
        )
        if token is None:
            raise NotFound()
        return Response({"url": self._url(request, token.secret)}, headers=NO_STORE)

    def _url(self, request, secret):
        return request.build_absolute_uri(reverse("api-calendar-feed", args=[secret]))

    @extend_schema(
        summary="A new secret address of your calendar feed (earlier ones stop working)",
        request=None,
        responses={201: inline_serializer("CalendarFeed", {"url": serializers.URLField()})},
    )
    def post(self, request):
        secret = calendar_feed_issue(by=request.user)
        url = self._url(request, secret)
        return Response(
            {"url": url}, status=status.HTTP_201_CREATED, headers={"Location": url, **NO_STORE}
        )

    @extend_schema(summary="Revoke your calendar feed's address", responses={204: None})
    def delete(self, request):
        calendar_feed_revoke(by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
