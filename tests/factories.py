"""Factories for the domain. They write rows directly, for arranging a test's world; the
behaviour under test always goes through the services."""

import datetime

import factory
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment
from clinics.models import Institution, Participant, Room, Site, StaffMembership
from sessions.models import GroupFacilitator, Session, SupportGroup


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("demo-password")


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Institution {n}")
    kind = Institution.Kind.COUNSELLING_CENTRE
    time_zone = "Europe/Warsaw"
    language = "pl"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    institution = factory.SubFactory(InstitutionFactory)
    name = factory.Sequence(lambda n: f"Site {n}")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 20


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    institution = factory.SubFactory(InstitutionFactory)
    role = StaffMembership.Role.FACILITATOR
    profession = StaffMembership.Profession.PSYCHOLOGIST


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    institution = factory.SubFactory(InstitutionFactory)
    alias = factory.Sequence(lambda n: f"Alias {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        institution = kwargs["institution"]
        Institution.objects.filter(pk=institution.pk).update(
            last_participant_number=F("last_participant_number") + 1
        )
        number = Institution.objects.values_list("last_participant_number", flat=True).get(
            pk=institution.pk
        )
        kwargs.setdefault("number", number)
        kwargs.setdefault("code", Participant.code_for(kwargs["number"]))
        return super()._create(model_class, *args, **kwargs)


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportGroup

    institution = factory.SubFactory(InstitutionFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    category = SupportGroup.Category.DEPRESSION
    membership_mode = SupportGroup.MembershipMode.OPEN
    capacity = 12
    min_size = 3
    status = SupportGroup.Status.ACTIVE
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=60))
    ground_rules = "What is said here stays here."


class GroupFacilitatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupFacilitator

    group = factory.SubFactory(GroupFactory)
    user = factory.SubFactory(UserFactory)
    role = GroupFacilitator.Role.LEAD


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    group = factory.SubFactory(GroupFactory)
    institution = factory.LazyAttribute(lambda s: s.group.institution)
    sequence = factory.Sequence(lambda n: n + 1)
    starts_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + datetime.timedelta(minutes=90))
    online_link = "https://meet.example.org/room"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    group = factory.SubFactory(GroupFactory)
    institution = factory.LazyAttribute(lambda e: e.group.institution)
    participant = factory.LazyAttribute(
        lambda e: ParticipantFactory(institution=e.group.institution)
    )
    status = Enrollment.Status.ACTIVE
    joined_on = factory.LazyAttribute(lambda e: e.group.starts_on if e.status == "active" else None)
    created_by = factory.SubFactory(UserFactory)


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    participant = factory.SubFactory(ParticipantFactory)
    institution = factory.LazyAttribute(lambda c: c.participant.institution)
    purpose = Consent.Purpose.PARTICIPATION
    method = Consent.Method.SIGNED_FORM
    text_version = "v1"
    granted_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=30))
    recorded_by = factory.SubFactory(UserFactory)


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AttendanceRecord

    session = factory.SubFactory(SessionFactory)
    institution = factory.LazyAttribute(lambda a: a.session.institution)
    enrollment = factory.LazyAttribute(lambda a: EnrollmentFactory(group=a.session.group))
    participant = factory.LazyAttribute(lambda a: a.enrollment.participant)
    status = AttendanceRecord.Status.PRESENT
    recorded_by = factory.SubFactory(UserFactory)
