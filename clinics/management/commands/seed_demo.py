"""`manage.py seed_demo [--password P]`: a believable demo of two institutions, built through the
services, the same every time (a fixed random seed) and only once (a second run changes nothing).

Institution A, a psychiatric day ward: ewa (admin), anna (facilitator, leads three groups), piotr
(facilitator), marek (staff), olga (auditor). Institution B, a counselling centre: karim
(facilitator).

Everything is dated from the day it runs (`Demo.today`): a term of weekly sessions that began
eight weeks ago today, so its past half is held with attendance and notes (one session
cancelled), anna's and karim's groups meet today — anna's at the hour of seeding, so its
session is open for attendance — and eight weeks lie ahead (one of them cancelled, which is
the one notice members are sent).
"""

import datetime
import random
import unicodedata

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from attendance import services as attendance
from attendance.models import AttendanceRecord, Consent, Enrollment
from audit.context import Origin, current_origin
from clinics import services as clinics
from clinics.models import Institution, Room, Site, StaffMembership
from sessions import services as sessions
from sessions.models import GroupFacilitator, Session, SupportGroup

NAME_A = "Oddział Dzienny Psychiatryczny, Szpital Specjalistyczny im. św. Łukasza"
NAME_B = "Poradnia Psychologiczno-Terapeutyczna „Przystań”"
RANDOM_SEED = 20261122
TERM_WEEKS = 16
PAST_WEEKS = 8
CONSENT_TEXT = "2026.1"

Role = StaffMembership.Role
Profession = StaffMembership.Profession
Mode = SupportGroup.MembershipMode
Category = SupportGroup.Category
Mark = attendance.Mark
Status = AttendanceRecord.Status

# (username, first name, last name, institution key, role, profession, is_staff)
USERS = [
    ("ewa", "Ewa", "Kowalczyk", "A", Role.ADMIN, Profession.ADMINISTRATIVE, True),
    ("anna", "Anna", "Wiśniewska", "A", Role.FACILITATOR, Profession.PSYCHOTHERAPIST, False),
    ("piotr", "Piotr", "Zieliński", "A", Role.FACILITATOR, Profession.ADDICTION_THERAPIST, False),
    ("marek", "Marek", "Lewandowski", "A", Role.STAFF, Profession.SOCIAL_WORKER, False),
    ("olga", "Olga", "Dąbrowska", "A", Role.AUDITOR, Profession.OTHER, False),
    ("karim", "Karim", "Haddad", "B", Role.FACILITATOR, Profession.PSYCHOLOGIST, False),
]

FIRST_NAMES = [
    "Agnieszka", "Tomasz", "Katarzyna", "Paweł", "Małgorzata", "Krzysztof", "Joanna", "Michał",
    "Barbara", "Andrzej", "Magdalena", "Jakub", "Monika", "Łukasz", "Aleksandra", "Grzegorz",
    "Dorota", "Marcin", "Beata", "Rafał", "Natalia", "Adam", "Justyna", "Wojciech", "Karolina",
    "Jan", "Iwona", "Mateusz", "Renata", "Bartosz", "Halina", "Szymon", "Elżbieta", "Dawid",
]  # fmt: skip
# (masculine, feminine) forms of a surname; first names ending in -a take the feminine.
LAST_NAMES = [
    ("Nowak", "Nowak"), ("Wójcik", "Wójcik"), ("Kamiński", "Kamińska"), ("Kaczmarek", "Kaczmarek"),
    ("Mazur", "Mazur"), ("Krawczyk", "Krawczyk"), ("Piotrowski", "Piotrowska"),
    ("Grabowski", "Grabowska"), ("Pawłowski", "Pawłowska"), ("Michalski", "Michalska"),
    ("Król", "Król"), ("Wieczorek", "Wieczorek"), ("Jabłoński", "Jabłońska"), ("Wróbel", "Wróbel"),
    ("Nowakowski", "Nowakowska"), ("Majewski", "Majewska"), ("Olszewski", "Olszewska"),
    ("Stępień", "Stępień"), ("Malinowski", "Malinowska"), ("Jaworski", "Jaworska"),
    ("Adamczyk", "Adamczyk"), ("Dudek", "Dudek"), ("Nowicki", "Nowicka"), ("Pawlak", "Pawlak"),
]  # fmt: skip
ANONYMOUS_ALIASES = [
    "Wędrowiec", "Zielona", "Kasztan", "Sowa", "Latarnik", "Jaskółka", "Wiatr", "Kamyk", "Brzoza",
    "Rybitwa", "Echo", "Mewa",
]  # fmt: skip
THEMES = [
    "Poznajmy się: zasady grupy i oczekiwania",
    "Jak rozpoznać pierwsze objawy nawrotu",
    "Sen, rytm dnia i aktywność",
    "Myśli automatyczne i jak je zauważać",
    "Rozmowa z bliskimi o chorobie",
    "Radzenie sobie ze stresem w pracy",
    "Poczucie winy i wstydu",
    "Plan na trudne dni",
]
GROUND_RULES = (
    "1. Co zostało powiedziane w grupie, zostaje w grupie.\n"
    "2. Mówimy we własnym imieniu i szanujemy prawo do milczenia.\n"
    "3. Nie oceniamy, nie doradzamy na siłę, nie przerywamy.\n"
    "4. Bez przemocy — słownej i fizycznej.\n"
    "5. Przychodzimy trzeźwi i punktualnie; nieobecność zgłaszamy prowadzącym."
)

# key, institution, name, category, mode, entry points, capacity, min size, meeting day (days
# after today's weekday: 0 meets today), start (None: the hour of seeding), room key (or None
# for online), lead, co-facilitator
GROUPS = [
    ("depression", "A", "Grupa wsparcia dla osób z depresją", Category.DEPRESSION, Mode.SEMI_OPEN,
     [1, 5, 9, 13], 10, 4, 0, None, "A1", "anna", None),
    ("psychosis", "A", "Psychoedukacja: schizofrenia i psychozy", Category.PSYCHOSIS, Mode.CLOSED,
     [], 12, 4, 2, datetime.time(10, 0), "A2", "anna", "piotr"),
    ("addiction", "A", "Zapobieganie nawrotom — grupa otwarta", Category.ADDICTION, Mode.OPEN,
     [], 15, 3, 6, datetime.time(17, 0), "A3", "piotr", None),
    ("perinatal", "A", "Grupa wsparcia po stracie dziecka nienarodzonego", Category.PERINATAL_LOSS,
     Mode.CLOSED, [], 8, 3, 1, datetime.time(18, 0), "A1", "anna", None),
    ("bereavement", "B", "Grupa wsparcia w żałobie", Category.BEREAVEMENT, Mode.CLOSED,
     [], 8, 3, 0, datetime.time(18, 0), "B1", "karim", None),
    ("acoa", "B", "DDA — Dorosłe Dzieci Alkoholików", Category.ACOA, Mode.SEMI_OPEN,
     [1, 7, 13], 12, 4, 2, datetime.time(18, 0), "B1", "karim", None),
    ("parenting", "B", "Szkoła dla rodziców (online)", Category.PARENTING, Mode.OPEN,
     [], 14, 3, 6, datetime.time(18, 30), None, "karim", None),
]  # fmt: skip

# key: (members from the start, joining at a later entry point (semi-open), walk-ins (open),
#       referred and waiting)
MEMBERSHIP = {
    "depression": (8, 2, 0, 1),
    "psychosis": (10, 0, 0, 0),
    "addiction": (8, 0, 3, 0),
    "perinatal": (5, 0, 0, 0),
    "bereavement": (8, 0, 0, 3),
    "acoa": (8, 2, 0, 0),
    "parenting": (7, 0, 2, 0),
}


def ascii_name(name: str) -> str:
    """Polish letters folded to ASCII, for the demo's e-mail addresses."""
    folded = unicodedata.normalize("NFKD", name.lower().replace("ł", "l"))
    return folded.encode("ascii", "ignore").decode()


class Command(BaseCommand):
    help = "Load a believable demo (two institutions, groups, a term of sessions); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo", help="Password of the demo users.")

    def handle(self, *args, password, **options):
        token = current_origin.set(Origin(client="manage.py seed_demo"))
        try:
            if Institution.objects.filter(name=NAME_A).exists():
                self.stdout.write("The demo data is already there; nothing changed.")
                self._print_users(password, existing=True)
                return
            # The demo's people are made up: what seeding tells them (the notice of the cancelled
            # session ahead) is delivered to memory, not to the console; the outbox shows it sent.
            with (
                override_settings(
                    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                    SMS_BACKEND="notifications.sms.LocmemSMSBackend",
                ),
                transaction.atomic(),
            ):
                Demo(password=password, out=self.stdout).build()
        finally:
            current_origin.reset(token)
        self._print_users(password, existing=False)

    def _print_users(self, password, *, existing):
        self.stdout.write("")
        self.stdout.write("Demo users (log in at /admin/ or /):")
        self.stdout.write("  admin  — superuser")
        for username, _first, _last, key, role, _prof, _staff in USERS:
            where = "A" if key == "A" else "B"
            self.stdout.write(f"  {username:<6} — {role.label} at institution {where}")
        if existing:
            self.stdout.write("Existing accounts keep the password they were given first.")
        self.stdout.write(f"Password: {password}")


class Demo:
    """Builds the demo world through the services, in one transaction. Every date in it derives
    from `today` (the day it runs, in Warsaw, where both institutions are)."""

    def __init__(self, *, password, out, now=None):
        self.password_hash = make_password(password)
        self.out = out
        self.rng = random.Random(RANDOM_SEED)
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)
        self.users = {}
        self.institutions = {}
        self.rooms = {}
        self.groups = {}
        self.name_index = 0

    def build(self):
        self.make_users()
        self.make_organisation()
        self.make_groups()
        self.make_members()
        self.cancel_sessions()
        self.take_attendance()
        self.write_notes()
        self.withdraw_some_consents()

    # --- people and places -------------------------------------------------------------------

    def _user(self, username, **fields):
        User = get_user_model()
        # One hash for all the demo users: hashing is deliberately slow.
        fields["password"] = self.password_hash
        user, _created = User.objects.get_or_create(username=username, defaults=fields)
        return user

    def make_users(self):
        self.admin = self._user(
            "admin", is_staff=True, is_superuser=True, email="admin@krag.example"
        )
        for username, first, last, _key, _role, _prof, is_staff in USERS:
            self.users[username] = self._user(
                username,
                first_name=first,
                last_name=last,
                email=f"{username}@krag.example",
                is_staff=is_staff,
            )

    def make_organisation(self):
        a = clinics.institution_save(
            institution=Institution(
                name=NAME_A,
                kind=Institution.Kind.HOSPITAL,
                language="pl",
                letterhead="ul. Szpitalna 12, 31-000 Kraków\ntel. 12 000 00 00",
                monthly_summary_enabled=True,
            ),
            by=self.admin,
        )
        b = clinics.institution_save(
            institution=Institution(
                name=NAME_B,
                kind=Institution.Kind.COUNSELLING_CENTRE,
                language="pl",
                letterhead="ul. Długa 5, 30-000 Kraków\nporadnia@przystan.example",
            ),
            by=self.admin,
        )
        self.institutions = {"A": a, "B": b}
        for username, _first, _last, key, role, profession, _staff in USERS:
            clinics.membership_save(
                membership=StaffMembership(
                    user=self.users[username],
                    institution=self.institutions[key],
                    role=role,
                    profession=profession,
                ),
                by=self.admin,
            )
        ewa = self.users["ewa"]
        site_a = clinics.site_save(
            site=Site(institution=a, name="Budynek C", address="ul. Szpitalna 12, Kraków"), by=ewa
        )
        site_b = clinics.site_save(
            site=Site(institution=b, name="Poradnia", address="ul. Długa 5, Kraków"),
            by=self.admin,
        )
        for key, site, name, capacity in [
            ("A1", site_a, "Sala terapii grupowej C-104", 14),
            ("A2", site_a, "Sala psychoedukacji C-110", 16),
            ("A3", site_a, "Świetlica oddziału", 24),
            ("B1", site_b, "Sala spotkań 1", 12),
            ("B2", site_b, "Sala spotkań 2", 8),
        ]:
            by = ewa if site.institution_id == a.pk else self.admin
            self.rooms[key] = clinics.room_save(
                room=Room(site=site, name=name, capacity=capacity), by=by
            )

    # --- groups and their term -----------------------------------------------------------------

    def term_start(self) -> datetime.date:
        """The term began eight weeks ago today: the groups meeting today have eight sessions
        behind them, and so has every other group (it meets on a day after today's weekday)."""
        return self.today - datetime.timedelta(weeks=PAST_WEEKS)

    def seeding_hour(self) -> datetime.time:
        """The hour the demo is seeded (08:00–20:00): anna's group meets then, so its session of
        today is open for taking attendance when the demo first opens."""
        hour = timezone.localtime(self.now).hour
        return datetime.time(min(max(hour, 8), 20), 0)

    def make_groups(self):
        for (
            key,
            inst,
            name,
            category,
            mode,
            points,
            cap,
            min_size,
            day,
            start,
            room,
            lead,
            co,
        ) in GROUPS:
            institution = self.institutions[inst]
            lead_user = self.users[lead]
            starts_on = self.term_start() + datetime.timedelta(days=day)
            start = start or self.seeding_hour()
            facilitators = [(lead_user, GroupFacilitator.Role.LEAD)]
            if co:
                facilitators.append((self.users[co], GroupFacilitator.Role.CO_FACILITATOR))
            online = "" if room else "https://spotkania.przystan.example/rodzice"
            group = sessions.group_create(
                institution=institution,
                by=lead_user,
                facilitators=facilitators,
                name=name,
                category=category,
                membership_mode=mode,
                entry_points=points,
                capacity=cap,
                min_size=min_size,
                default_room=self.rooms[room] if room else None,
                online_link=online,
                ground_rules=GROUND_RULES,
                status=SupportGroup.Status.ACTIVE,
                starts_on=starts_on,
                ends_on=starts_on + datetime.timedelta(weeks=TERM_WEEKS - 1),
            )
            sessions.schedule_create(
                group=group,
                by=lead_user,
                weekdays=[starts_on.weekday()],
                start_time=start,
                duration_minutes=90,
                starts_on=starts_on,
                count=TERM_WEEKS,
                online_link=online,
            )
            self.groups[key] = group

    def lead(self, group) -> object:
        return group.facilitator_roles.get(role=GroupFacilitator.Role.LEAD).user

    def session(self, group, number) -> Session:
        return group.sessions.get(sequence=number)

    # --- participants ------------------------------------------------------------------------

    def register(self, institution, *, anonymous=False, when=None, language="pl"):
        """Register one person with the consents a day ward or a centre typically collects."""
        rng = self.rng
        by = self.recorder(institution.pk)
        granted_at = when or timezone.make_aware(
            datetime.datetime.combine(
                self.term_start() - datetime.timedelta(days=rng.randint(3, 20)),
                datetime.time(rng.randint(9, 15), rng.choice([0, 15, 30, 45])),
            ),
            institution.tzinfo,
        )
        consent = {
            "method": Consent.Method.SIGNED_FORM,
            "text_version": CONSENT_TEXT,
            "granted_at": granted_at,
        }
        consents = [{"purpose": Consent.Purpose.PARTICIPATION, **consent}]
        self.name_index += 1
        if anonymous:
            alias = ANONYMOUS_ALIASES[self.name_index % len(ANONYMOUS_ALIASES)]
            return clinics.participant_register(
                institution=institution,
                by=by,
                alias=alias,
                consents=[{**consents[0], "method": Consent.Method.VERBAL}],
            )
        first = FIRST_NAMES[self.name_index % len(FIRST_NAMES)]
        masculine, feminine = LAST_NAMES[(self.name_index * 7) % len(LAST_NAMES)]
        last = feminine if first.endswith("a") else masculine
        consents.append({"purpose": Consent.Purpose.HEALTH_DATA, **consent})
        fields = {
            "legal_name": f"{first} {last}",
            "birth_year": rng.randint(1958, 2004),
            "language": language,
        }
        if rng.random() < 0.55:
            consents.append({"purpose": Consent.Purpose.CONTACT, **consent})
            if rng.random() < 0.5:
                fields["email"] = f"{ascii_name(first)}.{self.name_index}@poczta.example"
                fields["reminder_channel"] = "email"
            else:
                fields["phone"] = f"+48 600 {self.name_index:03d} {rng.randint(100, 999)}"
                fields["reminder_channel"] = "sms"
        if rng.random() < 0.15:
            consents.append({"purpose": Consent.Purpose.RESEARCH, **consent})
        return clinics.participant_register(
            institution=institution,
            by=by,
            alias=f"{first} {last[0]}.",
            consents=consents,
            **fields,
        )

    def make_members(self):
        rng = self.rng
        sources = [
            Enrollment.ReferralSource.SELF,
            Enrollment.ReferralSource.PSYCHIATRIST,
            Enrollment.ReferralSource.HOSPITAL,
            Enrollment.ReferralSource.GP,
        ]
        self.members = {}
        for key, inst, *_rest in GROUPS:
            group = self.groups[key]
            institution = self.institutions[inst]
            by = self.recorder(institution.pk)
            initial, later, walk_ins, waiting = MEMBERSHIP[key]
            # Anonymous groups in spirit: a few people in each give an alias only.
            anonymous_every = 4 if key in ("addiction", "acoa") else 7
            language = "pl"
            members = []
            for i in range(initial):
                if key == "parenting" and i in (2, 5):
                    language = "ar"
                person = self.register(
                    institution, anonymous=(i % anonymous_every == 3), language=language
                )
                language = "pl"
                enrollment = attendance.enrollment_refer(
                    participant=person, group=group, by=by, referral_source=rng.choice(sources)
                )
                attendance.enrollment_admit(enrollment=enrollment, by=by, on=group.starts_on)
                members.append(enrollment)
            if later:
                # Newcomers of a semi-open group join at its second entry point.
                number = group.entry_points[1]
                day = self.session(group, number).local_date()
                for _ in range(later):
                    person = self.register(institution)
                    enrollment = attendance.enrollment_refer(participant=person, group=group, by=by)
                    attendance.enrollment_admit(enrollment=enrollment, by=by, on=day)
                    members.append(enrollment)
            for number in [3, 4, 6][:walk_ins]:
                session = self.session(group, number)
                person = self.register(
                    institution,
                    anonymous=(number == 4),
                    when=session.starts_at - datetime.timedelta(minutes=10),
                )
                members.append(
                    attendance.enrollment_walk_in(
                        participant=person, group=group, by=by, session=session
                    )
                )
            for _ in range(waiting):
                person = self.register(institution)
                enrollment = attendance.enrollment_refer(
                    participant=person,
                    group=group,
                    by=by,
                    referral_source=Enrollment.ReferralSource.PSYCHIATRIST,
                )
                if group.membership_mode == Mode.CLOSED:
                    attendance.enrollment_waitlist(enrollment=enrollment, by=by)
            self.members[key] = members
        # Two members leave during the term; the rosters of later sessions no longer list them.
        for key, number, reason in [
            ("depression", 6, "Przeprowadzka do innego miasta."),
            ("addiction", 5, "Rozpoczął terapię stacjonarną na oddziale odwykowym."),
        ]:
            group = self.groups[key]
            enrollment = self.members[key][1]
            attendance.enrollment_withdraw(
                enrollment=enrollment,
                by=self.lead(group),
                reason=reason,
                on=self.session(group, number).local_date(),
            )

    # --- the term ----------------------------------------------------------------------------

    def cancel_sessions(self):
        psychosis = self.groups["psychosis"]
        sessions.session_cancel(
            session=self.session(psychosis, 4),
            by=self.users["anna"],
            reason="Prowadząca na zwolnieniu lekarskim; spotkanie odrobione w kolejnym tygodniu.",
            cancelled_by=Session.CancelledBy.FACILITATOR,
        )
        bereavement = self.groups["bereavement"]
        sessions.session_cancel(
            session=self.session(bereavement, PAST_WEEKS + 3),
            by=self.users["karim"],
            reason="Poradnia nieczynna — dzień wolny od pracy.",
            cancelled_by=Session.CancelledBy.CENTRE,
        )

    def take_attendance(self):
        rng = self.rng
        # Two people stop coming without a word: two unexplained absences in a row each, which
        # raise a follow-up task for the facilitator.
        dropping_out = {
            (self.groups["addiction"].pk, self.members["addiction"][3].participant_id): (6, 7),
            (self.groups["acoa"].pk, self.members["acoa"][2].participant_id): (5, 6),
        }
        for group in self.groups.values():
            lead = self.lead(group)
            previous: dict[int, str] = {}
            past = group.sessions.filter(ends_at__lt=self.now).order_by("starts_at")
            for session in past.exclude(status=Session.Status.CANCELLED):
                tz = group.institution.tzinfo
                start = timezone.localtime(session.starts_at, tz)
                end = timezone.localtime(session.ends_at, tz)
                marks = []
                for enrollment in attendance.session_roster(session):
                    pid = enrollment.participant_id
                    forced = dropping_out.get((group.pk, pid), ())
                    status = rng.choices(
                        [Status.PRESENT, Status.LATE, Status.LEFT_EARLY, Status.EXCUSED, "gap"],
                        weights=[78, 8, 4, 7, 3],
                    )[0]
                    if session.sequence in forced:
                        status = Status.UNEXCUSED
                    elif status == "gap":
                        # An isolated unexplained absence; never two in a row by chance.
                        status = Status.EXCUSED if previous.get(pid) == "gap" else Status.UNEXCUSED
                    arrived = left = None
                    if status == Status.LATE:
                        arrived = (start + datetime.timedelta(minutes=rng.randint(5, 25))).time()
                    if status == Status.LEFT_EARLY:
                        left = (end - datetime.timedelta(minutes=rng.randint(10, 40))).time()
                    previous[pid] = "gap" if status == Status.UNEXCUSED else status
                    marks.append(Mark(pid, status, arrived, left))
                # At the ward, staff take attendance at the door every third week.
                at_the_door = group.institution_id == self.institutions["A"].pk
                at_the_door = at_the_door and session.sequence % 3 == 0
                attendance.attendance_record(
                    session=session,
                    marks=marks,
                    by=self.users["marek"] if at_the_door else lead,
                    source=AttendanceRecord.Source.WEB
                    if at_the_door
                    else AttendanceRecord.Source.MOBILE,
                )

    def write_notes(self):
        group = self.groups["depression"]
        anna = self.users["anna"]
        held = list(group.sessions.filter(status=Session.Status.HELD).order_by("starts_at"))
        for index, session in enumerate(held):
            theme = THEMES[index % len(THEMES)]
            note = sessions.note_write(
                session=session,
                by=anna,
                theme=theme,
                text=f"Temat: {theme.lower()}. Grupa pracowała w parach, potem w kręgu. "
                "Atmosfera spokojna, kilka osób podzieliło się doświadczeniem z ostatniego tygodnia.",
            )
            if index < len(held) - 1:
                sessions.note_sign(note=note, by=anna)

    def withdraw_some_consents(self):
        contact = list(
            Consent.objects.filter(
                purpose=Consent.Purpose.CONTACT, status=Consent.Status.GRANTED
            ).order_by("id")
        )
        for consent in contact[2:12:3]:
            attendance.consent_withdraw(
                consent=consent,
                by=self.recorder(consent.institution_id),
                reason="Nie chce już otrzymywać przypomnień.",
            )
        research = Consent.objects.filter(
            purpose=Consent.Purpose.RESEARCH, status=Consent.Status.GRANTED
        ).order_by("id")
        first = research.first()
        if first is not None:
            attendance.consent_withdraw(
                consent=first,
                by=self.recorder(first.institution_id),
                reason="Rezygnacja z udziału w badaniu.",
            )

    def recorder(self, institution_id):
        """Who registers people and records consents: reception at A, the facilitator at B."""
        is_a = institution_id == self.institutions["A"].pk
        return self.users["marek"] if is_a else self.users["karim"]
