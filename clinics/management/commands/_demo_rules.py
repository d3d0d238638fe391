"""The demo's part that shows the institution's rules (issue 14), built through the services:
consent texts in Polish, English and Arabic for every purpose (the consents point at them), a
paused group with its cancelled sessions, an ended group, a semi-open group with marked entry
points and an offer timed to the next one, and a trainee's note waiting for co-signature.

Called once from seed_demo, after the term is built: `add_rules_demo(builder, today)`.
"""

import datetime

from attendance import services as attendance
from attendance.models import Consent
from sessions import services as sessions
from sessions.models import GroupFacilitator, Session, SupportGroup

Purpose = Consent.Purpose

# (purpose) -> {language: text}: what people sign, as a day ward or a centre words it.
TEXTS = {
    Purpose.PARTICIPATION: {
        "pl": "Wyrażam zgodę na udział w grupie wsparcia i przyjmuję jej zasady: poufność tego, "
        "co zostało powiedziane w grupie, szacunek dla innych uczestników, prawo do milczenia, "
        "brak przemocy i narzucania opinii. Wiem, że mogę w każdej chwili zrezygnować.",
        "en": "I agree to take part in the support group and accept its ground rules: what is "
        "said in the group stays in the group, respect for the other members, the right to stay "
        "silent, no violence and no imposed opinions. I know I may leave at any time.",
        "ar": "أوافق على المشاركة في مجموعة الدعم وأقبل قواعدها: ما يقال في المجموعة يبقى فيها، "
        "واحترام الأعضاء الآخرين، والحق في الصمت، وعدم العنف أو فرض الآراء. أعلم أنه يمكنني "
        "الانسحاب في أي وقت.",
    },
    Purpose.HEALTH_DATA: {
        "pl": "Wyrażam zgodę na przetwarzanie moich danych dotyczących zdrowia (art. 9 RODO) "
        "w zakresie niezbędnym do prowadzenia grupy i dokumentacji obecności.",
        "en": "I consent to the processing of my health-related data (GDPR art. 9) as far as "
        "needed to run the group and to keep its attendance records.",
        "ar": "أوافق على معالجة بياناتي المتعلقة بالصحة (المادة 9 من اللائحة العامة لحماية "
        "البيانات) بالقدر اللازم لإدارة المجموعة وسجلات الحضور.",
    },
    Purpose.CONTACT: {
        "pl": "Zgadzam się na przypomnienia o spotkaniach e-mailem lub SMS-em. Wiadomości nie "
        "zawierają nazwy ani tematu grupy.",
        "en": "I agree to be reminded of meetings by e-mail or text message. The messages do not "
        "name the group or its topic.",
        "ar": "أوافق على تلقي تذكيرات بالاجتماعات عبر البريد الإلكتروني أو الرسائل النصية. لا "
        "تذكر الرسائل اسم المجموعة أو موضوعها.",
    },
    Purpose.DISCLOSURE: {
        "pl": "Zgadzam się na przekazanie informacji o mojej obecności na spotkaniach wskazanemu "
        "odbiorcy (sąd, kurator, pracodawca lub program terapeutyczny).",
        "en": "I agree that my attendance at the meetings may be disclosed to the named "
        "recipient (a court, a probation officer, an employer or a treatment programme).",
        "ar": "أوافق على الإفصاح عن حضوري للاجتماعات للجهة المذكورة (محكمة أو ضابط مراقبة أو "
        "صاحب عمل أو برنامج علاجي).",
    },
    Purpose.RECORDING: {
        "pl": "Zgadzam się na nagrywanie dźwięku lub obrazu spotkania wyłącznie do superwizji "
        "prowadzących; nagrania są usuwane po superwizji.",
        "en": "I agree that the meeting may be recorded (sound or video) for the facilitators' "
        "supervision only; recordings are deleted after supervision.",
        "ar": "أوافق على تسجيل الاجتماع (صوتًا أو صورة) لغرض إشراف الميسرين فقط؛ وتُحذف "
        "التسجيلات بعد الإشراف.",
    },
    Purpose.RESEARCH: {
        "pl": "Zgadzam się na wykorzystanie zanonimizowanych danych o mojej obecności do badań "
        "naukowych nad skutecznością grup wsparcia.",
        "en": "I agree that anonymised data about my attendance may be used for research into "
        "how well support groups work.",
        "ar": "أوافق على استخدام بيانات مجهولة الهوية عن حضوري في البحث العلمي حول فعالية "
        "مجموعات الدعم.",
    },
}


def add_rules_demo(builder, today: datetime.date) -> None:
    """Add the rules' demo content to the world `builder` (seed_demo's) has built."""
    admin = builder.admin
    for institution in builder.institutions.values():
        for purpose, by_language in TEXTS.items():
            for language, body in by_language.items():
                attendance.consent_text_publish(
                    institution=institution,
                    purpose=purpose,
                    language=language,
                    version=builder.consent_text_version,
                    body=body,
                    valid_from=today - datetime.timedelta(days=180),
                    by=admin,
                )
        attendance.consent_texts_adopt(institution=institution, by=admin)

    anna, piotr = builder.users["anna"], builder.users["piotr"]
    # A paused group: the sessions of the next two weeks are cancelled by the centre.
    sessions.group_move(
        group=builder.groups["perinatal"],
        by=anna,
        status=SupportGroup.Status.PAUSED,
        resume_on=today + datetime.timedelta(days=15),
        reason="Remont sali; grupa wraca po przerwie.",
    )
    # An ended group: its future sessions cancelled (members told), its members completed.
    sessions.group_move(
        group=builder.groups["parenting"],
        by=builder.users["karim"],
        status=SupportGroup.Status.ENDED,
        reason="Zakończenie finansowania programu.",
    )
    # The semi-open group: its waiting person is offered the free seat until the next entry
    # session begins.
    depression = builder.groups["depression"]
    by = builder.recorder(depression.institution_id)
    for enrollment in depression.enrollments.filter(status="referred").order_by("pk"):
        enrollment = attendance.enrollment_waitlist(enrollment=enrollment, by=by)
        attendance.enrollment_offer_seat(enrollment=enrollment, by=by)
    # Piotr is a trainee in the depression group: his note on the last session waits for
    # Anna's co-signature (listed on her Today screen).
    sessions.group_facilitator_set(
        group=depression, user=piotr, role=GroupFacilitator.Role.TRAINEE, by=admin
    )
    last = depression.sessions.filter(status=Session.Status.HELD).order_by("-starts_at").first()
    if last is not None:
        member = attendance.session_roster(last)[0].participant
        note = sessions.note_write(
            session=last,
            by=piotr,
            kind="participant",
            participant=member,
            text="Mówiła więcej niż zwykle; poprosiła o rozmowę indywidualną po spotkaniu.",
        )
        sessions.note_sign(note=note, by=piotr)
