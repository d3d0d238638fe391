"""Fill a database with the synthetic data of a regional health network, for benchmarks.

    python manage.py seed_scale                  # 30 institutions, 1,500 groups, 10,000
                                                 # participants, two years of weekly sessions
    python manage.py seed_scale --scale 0.05     # the same shape, 5 % of the size
    python manage.py seed_scale --factor 4       # four times the network: 120 institutions,
                                                 # 6,000 groups, 40,000 participants

`--factor` multiplies the network (institutions, groups, participants) and keeps the two years
of weekly sessions, so the tables grow fourfold and the largest institution about twofold (its
share follows 1/sqrt(rank)): what `bench/run.py` compares to see whether a cost grows with the
size of the database.

Why it bypasses the services: the services write one row, one audit event and one check at a
time, which would take hours for 1.5 million attendance records. This command writes the rows
directly (PostgreSQL COPY, or batched INSERTs elsewhere), after planning them so that they
obey every rule the services enforce:

- every attendance record belongs to a session that has begun and was held, and to a member
  on that session's roster (joined on or before its day, not yet left), once per person;
- consents (participation, any group) are granted before the participant's first referral;
  identity fields (year of birth, phone) only with the health-data consent, SMS reminders
  only with the contact consent;
- capacity holds at every moment, closed and semi-open groups admit latecomers only with an
  admin's override, a participant has at most one enrollment per group;
- no room and no facilitator is booked twice at once (one time slot per room and lead);
- every row's institution is the institution of its group / participant / session;
- participant codes run P-00001… per institution in order of registration, and
  Institution.last_participant_number is the last one handed out;
- two unexcused absences in a row raise a follow-up task, as attendance_record does;
- legal names only with the health-data consent, encrypted as the model stores them (with
  FIELD_ENCRYPTION_KEYS: seed with the key the server will read them with).

The last year of marks has its audit log, written as the roster service writes it (one
`attendance.recorded` event per mark, by the mark's facilitator, at the time it was recorded):
the audit log's pages and searches are then measured at the size a year of use gives them.

The data is a function of the arguments: the same --seed and --now give the same rows (ids
included, on an empty database). Users are called scale-i01-f001 (facilitator 1 of the
largest institution), scale-i01-admin, scale-i01-staff…, all with the password
`scale-password`, which is fine for a benchmark database and nowhere else.
"""

import datetime
import json
import math
import random
import sys
import time
import zoneinfo
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from attendance.models import AttendanceRecord, Consent, Enrollment, FollowUpTask
from audit.models import AuditEvent
from clinics.fields import encrypted_fields
from clinics.models import Institution, Participant, Room, Site, StaffMembership
from sessions.models import GroupFacilitator, RecurrenceRule, Session, SupportGroup

User = get_user_model()

PASSWORD = "scale-password"  # noqa: S105 - synthetic benchmark accounts only  # nosec B105
TZ_NAME = "Europe/Warsaw"
TZ = zoneinfo.ZoneInfo(TZ_NAME)
HOURS = (9, 11, 13, 15, 17, 19)  # 90-minute sessions two hours apart never overlap
SLOTS = [(weekday, hour) for hour in HOURS for weekday in range(5)]  # 30 a room and week
DURATION = datetime.timedelta(minutes=90)
TEXT_VERSION = "2025-01"

CITIES = [
    "Lublin",
    "Kraków",
    "Gdańsk",
    "Poznań",
    "Wrocław",
    "Łódź",
    "Rzeszów",
    "Białystok",
    "Olsztyn",
    "Kielce",
    "Opole",
    "Toruń",
    "Szczecin",
    "Katowice",
    "Zamość",
    "Radom",
]
KIND_NAMES = {
    Institution.Kind.HOSPITAL: "Szpital Wojewódzki",
    Institution.Kind.COUNSELLING_CENTRE: "Poradnia Psychologiczna",
    Institution.Kind.DAILY_SUPPORT_CENTRE: "Dzienny Ośrodek Wsparcia",
    Institution.Kind.MENTAL_HEALTH_CLINIC: "Centrum Zdrowia Psychicznego",
    Institution.Kind.ADDICTION_TREATMENT: "Ośrodek Terapii Uzależnień",
    Institution.Kind.CORRECTIONAL: "Areszt Śledczy",
}
CATEGORY_NAMES = {
    "addiction": "uzależnienia",
    "depression": "depresja",
    "psychosis": "psychozy",
    "bereavement": "żałoba",
    "perinatal_loss": "strata dziecka",
    "parenting": "rodzicielstwo",
    "acoa": "DDA",
    "domestic_violence": "przemoc w rodzinie",
    "chronic_illness": "choroba przewlekła",
    "other": "wsparcie",
}
FIRST_NAMES = [
    "Anna",
    "Piotr",
    "Maria",
    "Krzysztof",
    "Katarzyna",
    "Tomasz",
    "Agnieszka",
    "Paweł",
    "Magdalena",
    "Michał",
    "Joanna",
    "Marcin",
    "Ewa",
    "Łukasz",
    "Zofia",
    "Jakub",
    "Olga",
    "Karim",
    "Fatima",
    "Oleksandr",
    "Iryna",
    "Jan",
    "Barbara",
    "Adam",
]
SURNAMES = [
    "Nowak",
    "Kowalska",
    "Wiśniewski",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowska",
    "Kozłowski",
    "Jankowska",
    "Mazur",
    "Kwiatkowski",
    "Krawczyk",
    "Haddad",
    "Bondarenko",
]
AUDIT_DAYS = 365
ATTENDANCE_WEIGHTS = [
    (AttendanceRecord.Status.PRESENT, 78),
    (AttendanceRecord.Status.LATE, 6),
    (AttendanceRecord.Status.LEFT_EARLY, 3),
    (AttendanceRecord.Status.EXCUSED, 7),
    (AttendanceRecord.Status.UNEXCUSED, 6),
]


# --- The plan: what will exist, decided before anything is written -------------------------


@dataclass
class PlannedParticipant:
    institution: int  # index
    first_referral: datetime.date | None = None
    id: int = 0
    number: int = 0
    created_at: datetime.datetime | None = None


@dataclass
class Tenure:
    """One enrollment: a seat held from session week `start` up to (not including) `end`."""

    participant: PlannedParticipant
    start: int
    end: int | None  # None: still a member
    joined_on: datetime.date
    left_on: datetime.date | None
    id: int = 0


@dataclass
class PlannedGroup:
    institution: int
    index: int  # within the institution
    weekday: int
    hour: int
    room_id: int
    lead_id: int
    co_id: int | None
    first_week: int
    mode: str
    capacity: int
    id: int = 0
    tenures: list[Tenure] = field(default_factory=list)
    waitlisted: PlannedParticipant | None = None
    waitlisted_id: int = 0
    session_ids: list[int] = field(default_factory=list)


def _share(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder), each at least `minimum`."""
    scale = sum(weights)
    raw = [max(minimum, total * w / scale) for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


class Progress:
    """A one-line progress bar on the terminal (a line per table when not a terminal)."""

    def __init__(self, stream, label: str, total: int):
        self.stream, self.label, self.total = stream, label, max(total, 1)
        self.count, self.started, self.shown = 0, time.monotonic(), 0.0
        self.tty = stream.isatty()

    def add(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.tty and now - self.shown > 0.2:
            self.shown = now
            self._draw(end="")

    def _draw(self, end: str) -> None:
        done = min(self.count / self.total, 1.0)
        bar = "#" * int(done * 30)
        elapsed = time.monotonic() - self.started
        line = f"{self.label:<32} [{bar:<30}] {done:4.0%} {self.count:>10,} rows {elapsed:6.1f}s"
        self.stream.write(("\r" if self.tty else "") + line + end)
        self.stream.flush()

    def close(self) -> None:
        self._draw(end="\n")


class Writer:
    """Writes planned rows with explicit ids: COPY on PostgreSQL, batched INSERTs elsewhere."""

    def __init__(self, stream, batch_size: int = 2000):
        self.stream, self.batch_size = stream, batch_size
        self.counts: dict[str, int] = {}

    @staticmethod
    def first_id(model) -> int:
        return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1

    def write(self, model, columns: list[str], rows, total: int) -> int:
        table = model._meta.db_table
        fields = [model._meta.get_field(c) for c in columns]
        progress = Progress(self.stream, table, total)
        written = 0
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                json_cols = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
                # Encrypted columns hold what the field stores (a Fernet token), not plaintext.
                secret_cols = [i for i, f in enumerate(fields) if f in encrypted_fields(model)]
                cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
                with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        if json_cols or secret_cols:
                            row = list(row)
                            for i in json_cols:
                                row[i] = json.dumps(row[i])
                            for i in secret_cols:
                                row[i] = fields[i].get_prep_value(row[i])
                        copy.write_row(row)
                        written += 1
                        if not written % 5000:
                            progress.add(5000)
            else:
                cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
                marks = ", ".join(["%s"] * len(fields))
                sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"  # noqa: S608 - model metadata  # nosec B608
                batch = []
                for row in rows:
                    batch.append(
                        [
                            f.get_db_prep_save(v, connection)
                            for f, v in zip(fields, row, strict=True)
                        ]
                    )
                    if len(batch) >= self.batch_size:
                        cursor.executemany(sql, batch)
                        progress.add(len(batch))
                        written += len(batch)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)
                    written += len(batch)
        progress.count = written
        progress.close()
        self.counts[table] = written
        return written

    def reset_sequences(self, models_):
        if connection.vendor != "postgresql":
            return  # SQLite's AUTOINCREMENT follows the largest id by itself
        with connection.cursor() as cursor:
            for model in models_:
                table = model._meta.db_table
                sql = f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608 - model metadata  # nosec B608
                cursor.execute(sql, [table])


class Command(BaseCommand):
    help = "Fill the database with a regional network's synthetic data, for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--institutions", type=int, default=30)
        parser.add_argument("--groups", type=int, default=1500)
        parser.add_argument("--participants", type=int, default=10000)
        parser.add_argument(
            "--weeks", type=int, default=104, help="Weeks of weekly sessions (the last few ahead)."
        )
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Multiply institutions, groups and participants (e.g. 0.05 for a quick run).",
        )
        parser.add_argument(
            "--factor",
            type=int,
            default=1,
            help="Multiply the network (institutions, groups, participants) by this whole number, "
            "on top of --scale; the weeks stay.",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--now",
            help="ISO date-time taken as the present (default: now, to the hour). Sessions "
            "before it are held or cancelled and have attendance; later ones are scheduled.",
        )

    def handle(self, *args, **options):
        if options["factor"] < 1:
            raise CommandError("--factor must be a whole number of at least 1.")
        scale = options["scale"] * options["factor"]
        if scale <= 0:
            raise CommandError("--scale must be positive.")
        self.n_institutions = max(1, round(options["institutions"] * scale))
        self.n_groups = max(self.n_institutions, round(options["groups"] * scale))
        self.n_participants = max(self.n_institutions, round(options["participants"] * scale))
        self.weeks = options["weeks"]
        if self.weeks < 2:
            raise CommandError("--weeks must be at least 2.")
        if options["now"]:
            now = datetime.datetime.fromisoformat(options["now"])
            self.now = now if timezone.is_aware(now) else now.replace(tzinfo=TZ)
        else:
            self.now = timezone.now().replace(minute=0, second=0, microsecond=0)
        self.rng = random.Random(options["seed"])
        if User.objects.filter(username__startswith="scale-").exists():
            raise CommandError(
                "This database already holds scale data (users scale-…); use a fresh database."
            )
        self.writer = Writer(getattr(self.stderr, "_out", sys.stderr))
        started = time.monotonic()
        with transaction.atomic():
            self.plan()
            self.write()
        if connection.vendor == "postgresql":
            # Fresh statistics, or the planner guesses on 1.5M rows; and, outside a transaction,
            # VACUUM too: it sets the visibility map that index-only scans (counts) rely on, as
            # autovacuum would on a live database some minutes after a bulk load.
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for table in self.writer.counts:
                    cursor.execute(f"{command} {connection.ops.quote_name(table)}")
        total = sum(self.writer.counts.values())
        self.stdout.write(
            f"Wrote {total:,} rows in {time.monotonic() - started:.0f} s: "
            + ", ".join(f"{t} {n:,}" for t, n in self.writer.counts.items())
        )

    # --- planning ---------------------------------------------------------------------------

    def local(self, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=TZ)

    def plan(self):
        rng = self.rng
        today = self.now.astimezone(TZ).date()
        self.today = today
        future_weeks = max(1, min(4, self.weeks // 10))
        monday = today - datetime.timedelta(days=today.weekday())
        # The window: past weeks, this week, then `future_weeks` weeks still ahead.
        self.window_start = monday - datetime.timedelta(weeks=self.weeks - future_weeks - 1)
        ids = {m: Writer.first_id(m) for m in (User, Institution, StaffMembership, Site, Room)}
        ids.update(
            {
                m: Writer.first_id(m)
                for m in (SupportGroup, GroupFacilitator, RecurrenceRule, Participant)
            }
        )
        ids.update(
            {
                m: Writer.first_id(m)
                for m in (Consent, Enrollment, Session, AttendanceRecord, FollowUpTask)
            }
        )
        self.ids = ids

        # Institutions: a few large hospitals and many small centres (weights 1/sqrt(rank)).
        weights = [1 / math.sqrt(i + 1) for i in range(self.n_institutions)]
        group_counts = _share(self.n_groups, weights)
        participant_counts = _share(self.n_participants, group_counts)
        kinds = list(KIND_NAMES)
        self.institutions = []
        self.users = []  # (id, username, first_name, last_name)
        self.memberships = []  # (user_id, institution_id, role, profession)
        self.rooms = []  # (id, site_id, name)
        self.sites = []  # (id, institution_id, name)
        self.groups: list[PlannedGroup] = []
        self.participants: list[PlannedParticipant] = []
        pools: list[list[PlannedParticipant]] = []
        user_id = ids[User]
        for i in range(self.n_institutions):
            inst_id = ids[Institution] + i
            kind = kinds[i % len(kinds)]
            city = CITIES[i % len(CITIES)]
            suffix = f" {i // len(CITIES) + 1}" if i >= len(CITIES) else ""
            self.institutions.append(
                {"id": inst_id, "kind": kind, "name": f"{KIND_NAMES[kind]} — {city}{suffix}"}
            )
            n_groups = group_counts[i]
            n_rooms = math.ceil(n_groups / len(SLOTS))
            # At least two facilitators per room, so a slot's leads and co-leads never coincide.
            n_facilitators = max(2 * n_rooms, math.ceil(n_groups / 3))
            prefix = f"scale-i{i + 1:02d}"
            staff_ids = {}
            for role, name in (
                (StaffMembership.Role.ADMIN, "admin"),
                (StaffMembership.Role.STAFF, "staff"),
                (StaffMembership.Role.AUDITOR, "auditor"),
            ):
                self.users.append((user_id, f"{prefix}-{name}", name.capitalize(), city))
                self.memberships.append((user_id, inst_id, role))
                staff_ids[role] = user_id
                user_id += 1
            facilitators = []
            for f in range(n_facilitators):
                first = FIRST_NAMES[(i + f) % len(FIRST_NAMES)]
                self.users.append((user_id, f"{prefix}-f{f + 1:03d}", first, f"F{f + 1:03d}"))
                self.memberships.append((user_id, inst_id, StaffMembership.Role.FACILITATOR))
                facilitators.append(user_id)
                user_id += 1
            self.institutions[-1]["staff"] = staff_ids[StaffMembership.Role.STAFF]
            self.institutions[-1]["admin"] = staff_ids[StaffMembership.Role.ADMIN]
            site_id = ids[Site] + i
            self.sites.append((site_id, inst_id, f"{city} — budynek główny"))
            room_ids = []
            for r in range(n_rooms):
                room_ids.append(ids[Room] + len(self.rooms))
                self.rooms.append((room_ids[-1], site_id, f"Sala {r + 1}"))
            pool = [PlannedParticipant(institution=i) for _ in range(participant_counts[i])]
            pools.append(pool)
            self.participants.extend(pool)
            for j in range(n_groups):
                weekday, hour = SLOTS[j // n_rooms]
                co = facilitators[(j + n_rooms) % n_facilitators] if rng.random() < 0.3 else None
                mode = rng.choices(
                    [SupportGroup.MembershipMode.OPEN, "semi_open", "closed"], [6, 2, 2]
                )[0]
                group = PlannedGroup(
                    institution=i,
                    index=j,
                    weekday=weekday,
                    hour=hour,
                    room_id=room_ids[j % n_rooms],
                    lead_id=facilitators[j % n_facilitators],
                    co_id=co,
                    first_week=rng.randint(0, min(6, self.weeks - 2)),
                    mode=mode,
                    capacity=0,
                    id=ids[SupportGroup] + len(self.groups),
                )
                self.plan_members(group, pool)
                self.groups.append(group)

        # Participants: registered shortly before their first referral, numbered in that order.
        for p in self.participants:
            if p.first_referral is not None:
                day = p.first_referral - datetime.timedelta(days=rng.randint(1, 20))
            else:
                day = self.window_start + datetime.timedelta(days=rng.randint(0, self.weeks * 7))
                day = min(day, today - datetime.timedelta(days=1))
            p.created_at = self.local(day, 10, rng.randint(0, 59))
        next_id = ids[Participant]
        self.last_numbers = []
        for pool in pools:
            pool.sort(key=lambda p: p.created_at)
            for number, p in enumerate(pool, start=1):
                p.number, p.id = number, next_id
                next_id += 1
            self.last_numbers.append(len(pool))
        self.participants.sort(key=lambda p: p.id)

        # Sessions and enrollments get their ids in write order.
        session_id = ids[Session]
        enrollment_id = ids[Enrollment]
        for group in self.groups:
            n = self.weeks - group.first_week
            group.session_ids = list(range(session_id, session_id + n))
            session_id += n
            for tenure in group.tenures:
                tenure.id = enrollment_id
                enrollment_id += 1
            if group.waitlisted:
                group.waitlisted_id = enrollment_id
                enrollment_id += 1

    def session_day(self, group: PlannedGroup, week: int) -> datetime.date:
        return self.window_start + datetime.timedelta(weeks=week, days=group.weekday)

    def plan_members(self, group: PlannedGroup, pool: list[PlannedParticipant]) -> None:
        """Seats held by a succession of members. A member joins on or before a session's day
        and after the previous one, and a successor joins no earlier than the day the seat's
        last holder left, so the roster changes between sessions and never exceeds capacity."""
        rng = self.rng
        seats = rng.randint(8, 15)
        group.capacity = min(40, seats + rng.randint(0, 4))
        used: set[int] = set()

        def pick() -> PlannedParticipant | None:
            for _ in range(50):
                k = rng.randrange(len(pool))
                if k not in used:
                    used.add(k)
                    return pool[k]
            rest = [k for k in range(len(pool)) if k not in used]
            if not rest:
                return None
            used.add(rest[0])
            return pool[rest[0]]

        for _seat in range(seats):
            week, free_from = group.first_week, None
            while week < self.weeks and self.session_day(group, week) <= self.today:
                participant = pick()
                if participant is None:
                    return
                day = self.session_day(group, week)
                if week == group.first_week:
                    joined_on = day  # the founding members join on the first session's day
                else:
                    joined_on = day - datetime.timedelta(days=rng.randint(0, 6))
                    if free_from is not None:
                        joined_on = max(joined_on, free_from)
                end = week + rng.randint(6, 70)
                leaves = end < self.weeks and self.session_day(group, end) <= self.today
                left_on = None
                if leaves:
                    left_on = self.session_day(group, end) - datetime.timedelta(
                        days=rng.randint(0, 6)
                    )
                group.tenures.append(
                    Tenure(participant, week, end if leaves else None, joined_on, left_on)
                )
                self._note_referral(participant, joined_on)
                if not leaves:
                    break
                week, free_from = end + rng.randint(0, 3), left_on
        if rng.random() < 0.1:
            group.waitlisted = pick()
            if group.waitlisted:
                self._note_referral(group.waitlisted, self.today - datetime.timedelta(days=30))

    @staticmethod
    def _note_referral(p: PlannedParticipant, day: datetime.date) -> None:
        # Referral happens up to 14 days before joining; consents come before the referral.
        day = day - datetime.timedelta(days=14)
        if p.first_referral is None or day < p.first_referral:
            p.first_referral = day

    # --- writing -------------------------------------------------------------------------

    def write(self):
        w = self.writer
        rng = self.rng
        password = make_password(PASSWORD, salt="scaleseedsalt")
        joined = self.local(self.window_start - datetime.timedelta(days=60), 9)
        w.write(
            User,
            "id password is_superuser username first_name last_name email is_staff is_active date_joined".split(),
            (
                (
                    uid,
                    password,
                    False,
                    name,
                    first,
                    last,
                    f"{name}@scale.invalid",
                    False,
                    True,
                    joined,
                )
                for uid, name, first, last in self.users
            ),
            len(self.users),
        )
        w.write(
            Institution,
            "id name kind time_zone language letterhead retention_months monthly_summary_enabled require_two_factor attendance_opens_minutes_before last_participant_number created_at updated_at".split(),
            (
                (
                    inst["id"],
                    inst["name"],
                    inst["kind"],
                    TZ_NAME,
                    "pl",
                    inst["name"],
                    60,
                    False,
                    False,
                    30,
                    self.last_numbers[i],
                    joined,
                    joined,
                )
                for i, inst in enumerate(self.institutions)
            ),
            len(self.institutions),
        )
        professions = [
            StaffMembership.Profession.PSYCHOLOGIST,
            StaffMembership.Profession.PSYCHOTHERAPIST,
            StaffMembership.Profession.SOCIAL_WORKER,
            StaffMembership.Profession.ADDICTION_THERAPIST,
        ]
        w.write(
            StaffMembership,
            "id user_id institution_id role profession is_active created_at updated_at".split(),
            (
                (
                    self.ids[StaffMembership] + n,
                    uid,
                    inst,
                    role,
                    professions[n % 4] if role == "facilitator" else "administrative",
                    True,
                    joined,
                    joined,
                )
                for n, (uid, inst, role) in enumerate(self.memberships)
            ),
            len(self.memberships),
        )
        w.write(
            Site,
            "id institution_id name address created_at updated_at".split(),
            ((sid, inst, name, "", joined, joined) for sid, inst, name in self.sites),
            len(self.sites),
        )
        w.write(
            Room,
            "id site_id name capacity is_active created_at updated_at".split(),
            ((rid, site, name, 16, True, joined, joined) for rid, site, name in self.rooms),
            len(self.rooms),
        )
        self.write_groups()
        self.write_participants()
        self.write_enrollments()
        self.write_sessions_and_attendance()
        self.write_audit_log()
        w.reset_sequences(
            [
                User,
                Institution,
                StaffMembership,
                Site,
                Room,
                SupportGroup,
                GroupFacilitator,
                RecurrenceRule,
                Participant,
                Consent,
                Enrollment,
                Session,
                AttendanceRecord,
                FollowUpTask,
            ]
        )
        del rng

    def inst_id(self, index: int) -> int:
        return self.institutions[index]["id"]

    def write_groups(self):
        w, rng = self.writer, self.rng
        categories = list(SupportGroup.Category.values)
        rows, facilitators, rules = [], [], []
        for g in self.groups:
            category = categories[(g.institution + g.index) % len(categories)]
            starts_on = self.session_day(g, g.first_week)
            created = self.local(starts_on - datetime.timedelta(days=21), 12)
            entry_points = list(range(1, self.weeks + 1, 4)) if g.mode == "semi_open" else []
            rows.append(
                (
                    g.id,
                    self.inst_id(g.institution),
                    f"{CATEGORY_NAMES[category][:1].upper()}{CATEGORY_NAMES[category][1:]} — grupa {g.index + 1}",
                    category,
                    "",
                    g.mode,
                    entry_points,
                    g.capacity,
                    min(3, g.capacity),
                    g.room_id,
                    "",
                    "pl",
                    "Poufność, wzajemny szacunek, prawo do milczenia.",
                    "active",
                    starts_on,
                    None,
                    created,
                    created,
                )
            )
            facilitators.append((g.id, g.lead_id, GroupFacilitator.Role.LEAD, created))
            if g.co_id:
                facilitators.append((g.id, g.co_id, GroupFacilitator.Role.CO_FACILITATOR, created))
            rules.append(
                (
                    g.id,
                    g.id,
                    [g.weekday],
                    1,
                    datetime.time(g.hour),
                    90,
                    starts_on,
                    self.session_day(g, self.weeks - 1),
                    None,
                    [],
                    g.room_id,
                    "",
                    g.lead_id,
                    created,
                )
            )
        del rng
        w.write(
            SupportGroup,
            "id institution_id name category description membership_mode entry_points capacity min_size default_room_id online_link language ground_rules status starts_on ends_on created_at updated_at".split(),
            rows,
            len(rows),
        )
        w.write(
            GroupFacilitator,
            "id group_id user_id role created_at".split(),
            ((self.ids[GroupFacilitator] + n, *row) for n, row in enumerate(facilitators)),
            len(facilitators),
        )
        # One rule per group: rule ids follow group ids from the first free rule id.
        offset = self.ids[RecurrenceRule] - self.ids[SupportGroup]
        w.write(
            RecurrenceRule,
            "id group_id weekdays interval_weeks start_time duration_minutes starts_on until count skip_dates room_id online_link created_by_id created_at".split(),
            ((rid + offset, *rest) for rid, *rest in rules),
            len(rules),
        )
        self.rule_offset = offset

    def write_participants(self):
        w, rng = self.writer, self.rng
        rows, consents = [], []
        methods = list(Consent.Method.values)
        for p in self.participants:
            inst = self.institutions[p.institution]
            health = rng.random() < 0.5
            contact = health and rng.random() < 0.5
            phone = f"+48 5{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
            name = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
            rows.append(
                (
                    p.id,
                    self.inst_id(p.institution),
                    p.number,
                    Participant.code_for(p.number),
                    f"{name} {chr(65 + p.number % 26)}.",
                    # A legal name only with the health-data consent (SPEC: identity beyond
                    # an alias needs it); the surname follows the id, so no draw is added.
                    f"{name} {SURNAMES[p.id % len(SURNAMES)]}" if health else "",
                    "",
                    phone if contact else "",
                    "sms" if contact else "none",
                    rng.randint(1950, 2005) if health else None,
                    "",
                    inst["staff"],
                    None,
                    p.created_at,
                    p.created_at,
                )
            )
            granted = [Consent.Purpose.PARTICIPATION]
            if health:
                granted.append(Consent.Purpose.HEALTH_DATA)
            if contact:
                granted.append(Consent.Purpose.CONTACT)
            method = methods[rng.randrange(len(methods))]
            for purpose in granted:
                consents.append(
                    (
                        self.inst_id(p.institution),
                        p.id,
                        purpose,
                        "granted",
                        None,
                        "",
                        method,
                        TEXT_VERSION,
                        "",
                        p.created_at,
                        None,
                        inst["staff"],
                        None,
                        None,
                        "",
                        p.created_at,
                        p.created_at,
                    )
                )
        w.write(
            Participant,
            "id institution_id number code alias legal_name email phone reminder_channel birth_year language registered_by_id erased_at created_at updated_at".split(),
            rows,
            len(rows),
        )
        w.write(
            Consent,
            "id institution_id participant_id purpose status group_id recipient method text_version scan granted_at expires_at recorded_by_id withdrawn_at withdrawn_by_id withdrawal_reason created_at updated_at".split(),
            ((self.ids[Consent] + n, *row) for n, row in enumerate(consents)),
            len(consents),
        )

    def write_enrollments(self):
        w, rng = self.writer, self.rng
        sources = list(Enrollment.ReferralSource.values)
        rows = []
        for g in self.groups:
            inst = self.inst_id(g.institution)
            for t in g.tenures:
                joined_on, left_on = t.joined_on, t.left_on
                referred_on = joined_on - datetime.timedelta(days=rng.randint(0, 14))
                late = joined_on > self.session_day(g, g.first_week)
                override = (g.mode == "closed" and late) or (
                    g.mode == "semi_open" and late and (t.start - g.first_week) % 4 != 0
                )
                if left_on is None:
                    status, reason = Enrollment.Status.ACTIVE, ""
                elif rng.random() < 0.6:
                    status, reason = Enrollment.Status.COMPLETED, "Ukończył(a) cykl."
                else:
                    status, reason = Enrollment.Status.WITHDRAWN, "Rezygnacja."
                created = self.local(referred_on, 9)
                updated = self.local(left_on or joined_on, 9)
                rows.append(
                    (
                        t.id,
                        inst,
                        t.participant.id,
                        g.id,
                        status,
                        sources[rng.randrange(len(sources))],
                        referred_on,
                        None,
                        None,
                        None,
                        joined_on,
                        left_on,
                        reason,
                        False,
                        override,
                        g.lead_id,
                        created,
                        updated,
                    )
                )
            if g.waitlisted:
                referred_on = self.today - datetime.timedelta(days=30)
                waitlisted_at = self.local(referred_on, 12)
                rows.append(
                    (
                        g.waitlisted_id,
                        inst,
                        g.waitlisted.id,
                        g.id,
                        Enrollment.Status.WAITLISTED,
                        "self",
                        referred_on,
                        waitlisted_at,
                        None,
                        None,
                        None,
                        None,
                        "",
                        False,
                        False,
                        g.lead_id,
                        waitlisted_at,
                        waitlisted_at,
                    )
                )
        w.write(
            Enrollment,
            "id institution_id participant_id group_id status referral_source referred_on waitlisted_at offered_at offer_expires_at joined_on left_on end_reason is_walk_in admitted_with_override created_by_id created_at updated_at".split(),
            rows,
            len(rows),
        )

    def write_sessions_and_attendance(self):
        w, rng = self.writer, self.rng
        sessions, held = [], []  # held: (group, week, session_id, starts, ends)
        for g in self.groups:
            inst = self.inst_id(g.institution)
            for n, week in enumerate(range(g.first_week, self.weeks)):
                sid = g.session_ids[n]
                starts = self.local(self.session_day(g, week), g.hour)
                ends = starts + DURATION
                created = self.local(self.session_day(g, g.first_week) - datetime.timedelta(21), 12)
                cancel = ("", None, "", None)
                if starts > self.now:
                    status, updated = Session.Status.SCHEDULED, created
                elif rng.random() < 0.02:
                    status = Session.Status.CANCELLED
                    cancelled_at = starts - datetime.timedelta(days=1)
                    cancel = ("centre", g.lead_id, "Choroba prowadzącego.", cancelled_at)
                    updated = cancelled_at
                else:
                    # A session under way now is held; its marks are "recorded" by now.
                    status, updated = Session.Status.HELD, min(ends, self.now)
                    held.append((g, week, sid, starts, updated))
                sessions.append(
                    (
                        sid,
                        inst,
                        g.id,
                        g.id + self.rule_offset,
                        n + 1,
                        starts,
                        ends,
                        g.room_id,
                        "",
                        status,
                        "",
                        None,
                        *cancel,
                        created,
                        updated,
                    )
                )
        w.write(
            Session,
            "id institution_id group_id recurrence_id sequence starts_at ends_at room_id online_link status theme substitute_facilitator_id cancelled_by cancelled_by_user_id cancellation_reason cancelled_at created_at updated_at".split(),
            sessions,
            len(sessions),
        )
        total = sum(
            sum(1 for t in g.tenures if t.start <= week and (t.end is None or week < t.end))
            for g, week, *_ in held
        )
        follow_ups = []
        w.write(
            AttendanceRecord,
            "id institution_id session_id participant_id enrollment_id status arrived_at left_at recorded_by_id recorded_at source version created_at updated_at".split(),
            self.attendance_rows(held, follow_ups),
            total,
        )
        w.write(
            FollowUpTask,
            "id institution_id enrollment_id trigger_session_id assigned_to_id status outcome resolved_at resolved_by_id created_at updated_at".split(),
            ((self.ids[FollowUpTask] + n, *row) for n, row in enumerate(follow_ups)),
            len(follow_ups),
        )

    def write_audit_log(self):
        """The last year's marks as the roster service logs them: one `attendance.recorded`
        event per mark, by its facilitator, when it was recorded. Copied from the marks by one
        INSERT … SELECT, in the marks' order: 0.8 M events at the default size, no Python loop."""
        since = self.now - datetime.timedelta(days=AUDIT_DAYS)
        details = (
            "json_build_object('status', r.status)"
            if connection.vendor == "postgresql"
            else "json_object('status', r.status)"
        )
        audit, record, user = (
            AuditEvent._meta.db_table,
            AttendanceRecord._meta.db_table,
            User._meta.db_table,
        )
        first = AttendanceRecord.objects.filter(pk__gte=self.ids[AttendanceRecord])
        progress = Progress(self.writer.stream, audit, first.filter(recorded_at__gte=since).count())
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {audit} (created_at, actor_id, actor_username, institution_id, action,
                                     object_type, object_id, ip_address, client, details)
                SELECT r.recorded_at, r.recorded_by_id, u.username, r.institution_id,
                       'attendance.recorded', %s, CAST(r.id AS VARCHAR(64)), NULL, '', {details}
                FROM {record} r JOIN {user} u ON u.id = r.recorded_by_id
                WHERE r.id >= %s AND r.recorded_at >= %s
                ORDER BY r.id
                """,  # noqa: S608 - table names from the models' meta  # nosec B608
                [
                    AttendanceRecord._meta.label_lower,
                    self.ids[AttendanceRecord],
                    connection.ops.adapt_datetimefield_value(since),
                ],
            )
            progress.count = cursor.rowcount
        progress.close()
        self.writer.counts[audit] = progress.count

    def attendance_rows(self, held, follow_ups):
        rng = self.rng
        statuses = [s for s, _ in ATTENDANCE_WEIGHTS]
        cumulative = []
        acc = 0
        for _, weight in ATTENDANCE_WEIGHTS:
            acc += weight
            cumulative.append(acc)
        unexcused = AttendanceRecord.Status.UNEXCUSED
        previous: dict[int, str] = {}  # enrollment id -> status at its last held session
        record_id = self.ids[AttendanceRecord]
        follow_up_cutoff = self.now - datetime.timedelta(days=28)
        for g, week, sid, _starts, ends in held:
            inst = self.inst_id(g.institution)
            source = "mobile" if rng.random() < 0.6 else "web"
            for t in g.tenures:
                if t.start > week or (t.end is not None and week >= t.end):
                    continue
                roll = rng.random() * acc
                status = statuses[next(i for i, c in enumerate(cumulative) if roll < c)]
                arrived = left = None
                if status == AttendanceRecord.Status.LATE:
                    arrived = datetime.time(g.hour, 10 + rng.randint(0, 20))
                elif status == AttendanceRecord.Status.LEFT_EARLY:
                    left = datetime.time(g.hour + 1, rng.randint(0, 15))
                yield (
                    record_id,
                    inst,
                    sid,
                    t.participant.id,
                    t.id,
                    status,
                    arrived,
                    left,
                    g.lead_id,
                    ends,
                    source,
                    1,
                    ends,
                    ends,
                )
                record_id += 1
                if status == unexcused and previous.get(t.id) == unexcused:
                    done = ends < follow_up_cutoff
                    follow_ups.append(
                        (
                            inst,
                            t.id,
                            sid,
                            g.lead_id,
                            "done" if done else "open",
                            "Rozmowa telefoniczna; wraca na grupę." if done else "",
                            ends + datetime.timedelta(days=3) if done else None,
                            g.lead_id if done else None,
                            ends,
                            ends,
                        )
                    )
                previous[t.id] = status
