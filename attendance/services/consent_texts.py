"""Consent texts are versioned documents (SPEC): per institution, purpose and language, the
text people agree to. A consent points at the exact text; a new version that needs renewed
consent flags the consents given under an older one; scans of signed forms are checked, kept
in Django's storage and read only by those allowed, every read audited."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clinics.locking import Precondition, changed_fields, lock_for_change
from clinics.models import LANGUAGE_CHOICES
from clinics.roles import CLINICAL_ROLES, Role, require_role, role_of

from ..models import Consent, ConsentText

SCAN_MAX_BYTES = 10 * 1024 * 1024
# What a scan of a signed form may be, known by its first bytes (a name or a browser's
# content type proves nothing).
SCAN_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


def _texts_in_force(institution, language: str, on=None):
    """The institution's texts in `language` that were in force on `on` (today), the current
    one of each purpose first: the latest `valid_from`, then the latest written."""
    on = on or institution.local_now().date()
    return ConsentText.objects.filter(
        institution=institution, language=language, valid_from__lte=on
    ).order_by("purpose", "-valid_from", "-id")


def consent_text_current(institution, purpose: str, language: str, *, on=None):
    """The institution's text for `purpose` in `language` in force on `on` (today)."""
    return _texts_in_force(institution, language, on).filter(purpose=purpose).first()


def consent_texts_current(institution, language: str) -> dict:
    """{purpose: text} of every purpose with a text in force in `language` (the staff screen
    shows them when a consent is recorded), in one query."""
    texts = {}
    for text in _texts_in_force(institution, language):
        texts.setdefault(text.purpose, text)
    return {purpose: texts[purpose] for purpose in Consent.Purpose.values if purpose in texts}


def resolve_consent_text(participant, purpose: str, version: str, language: str = ""):
    """The exact text a consent given as `version` points at: the institution's text of that
    purpose and version, in the person's language first. None when the institution keeps no
    texts for the purpose yet (the label then stands alone, as before texts existed).
    """
    institution = participant.institution
    texts = ConsentText.objects.filter(institution=institution, purpose=purpose)
    if not texts.exists():
        return None
    version = (version or "").strip()
    wanted = [language, participant.language, institution.language]
    if not version:
        for lang in filter(None, wanted):
            text = consent_text_current(institution, purpose, lang)
            if text is not None:
                return text
        raise ValidationError({"text_version": _("Choose the consent text that was agreed to.")})
    matching = {t.language: t for t in texts.filter(version=version)}
    for lang in filter(None, wanted):
        if lang in matching:
            return matching[lang]
    if matching:
        return next(iter(matching.values()))
    known = ", ".join(sorted(set(texts.values_list("version", flat=True))))
    raise ValidationError(
        {
            "text_version": _(
                "This institution has no consent text “%(version)s” for this purpose; its "
                "versions are: %(known)s."
            )
            % {"version": version, "known": known}
        }
    )


@transaction.atomic
def consent_text_publish(
    *,
    institution,
    purpose: str,
    language: str,
    version: str,
    body: str,
    valid_from: datetime.date,
    by,
    requires_renewal: bool = False,
) -> ConsentText:
    """Publish a new version of a consent text. With `requires_renewal` the consents in force
    given under an older text of that purpose and language are flagged for renewal."""
    require_role(by, institution, (Role.ADMIN,), _("publish consent texts"))
    errors = {}
    if purpose not in Consent.Purpose.values:
        errors["purpose"] = _("Unknown purpose.")
    if language not in dict(LANGUAGE_CHOICES):
        errors["language"] = _("Choose Polish, English or Arabic.")
    if not (version or "").strip():
        errors["version"] = _("Give the version label, e.g. 2026-12.")
    if not (body or "").strip():
        errors["body"] = _("The text is empty.")
    if ConsentText.objects.filter(
        institution=institution, purpose=purpose, language=language, version=(version or "").strip()
    ).exists():
        errors["version"] = _("This version exists already; publish a new version instead.")
    if errors:
        raise ValidationError(errors)
    text = ConsentText.objects.create(
        institution=institution,
        purpose=purpose,
        language=language,
        version=version.strip(),
        body=body.strip(),
        valid_from=valid_from,
        requires_renewal=requires_renewal,
        created_by=by,
    )
    flagged = 0
    if requires_renewal:
        older = (
            Consent.objects.active()
            .filter(institution=institution, purpose=purpose, renewal_needed=False)
            .exclude(text=text)
            .filter(text__language=language)
        )
        flagged = older.update(renewal_needed=True, updated_at=timezone.now())
    audit_record(
        actor=by,
        action="consent_text.published",
        obj=text,
        institution=institution,
        details={
            "purpose": purpose,
            "language": language,
            "version": text.version,
            "flagged": flagged,
        },
    )
    return text


@transaction.atomic
def consent_texts_adopt(*, institution, by) -> int:
    """Point the consents recorded before the institution kept its texts (a label only) at the
    text of that label, purpose and the person's language (else the institution's). Run once
    when the texts are entered; safe to run again. Returns how many were linked."""
    require_role(by, institution, (Role.ADMIN,), _("publish consent texts"))
    linked = 0
    texts = {}
    for text in ConsentText.objects.filter(institution=institution):
        texts[(text.purpose, text.version, text.language)] = text
    unlinked = Consent.objects.filter(institution=institution, text__isnull=True).select_related(
        "participant"
    )
    for consent in unlinked:
        text = texts.get(
            (consent.purpose, consent.text_version, consent.participant.language)
        ) or texts.get((consent.purpose, consent.text_version, institution.language))
        if text is None:
            continue
        Consent.objects.filter(pk=consent.pk).update(text=text, updated_at=timezone.now())
        linked += 1
    audit_record(
        actor=by,
        action="consent_text.adopted",
        obj=institution,
        institution=institution,
        details={"linked": linked},
    )
    return linked


def _check_scan(scan) -> None:
    if scan.size > SCAN_MAX_BYTES:
        raise ValidationError(
            {"scan": _("The scan is larger than 10 MB; scan it at a lower resolution.")}
        )
    head = scan.read(16)
    scan.seek(0)
    if not any(head.startswith(sig) for sig in SCAN_SIGNATURES):
        raise ValidationError({"scan": _("A scan must be a PDF, JPEG or PNG file.")})


@transaction.atomic
def consent_attach_scan(
    *, consent: Consent, scan, by, precondition: Precondition = None
) -> Consent:
    """Attach the scan of the signed form (PDF, JPEG or PNG, at most 10 MB), stored through
    Django's storage under a name that says nothing about the person."""
    require_role(by, consent.institution_id, CLINICAL_ROLES, _("record consents"))
    _check_scan(scan)
    consent = lock_for_change(consent, precondition)
    if consent.scan:
        raise ValidationError({"scan": _("This consent has a scan already.")})
    suffix = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
    head = scan.read(16)
    scan.seek(0)
    kind = next(v for k, v in SCAN_SIGNATURES.items() if head.startswith(k))
    scan.name = f"consent-{consent.pk}.{suffix[kind]}"
    consent.scan = scan
    consent.save(update_fields=changed_fields("scan"))
    audit_record(actor=by, action="consent.scan_attached", obj=consent, details={"type": kind})
    return consent


def consent_scan_open(*, consent: Consent, by):
    """Open a consent's scan for `by` (a clinical role in its institution), audited; returns
    (file, content type)."""
    if role_of(by, consent.institution_id) not in CLINICAL_ROLES:
        raise PermissionDenied(
            _("Your role does not allow this: %(action)s") % {"action": _("read consent scans")}
        )
    if not consent.scan:
        raise ValidationError(_("This consent has no scan."))
    handle = consent.scan.open("rb")
    head = handle.read(16)
    handle.seek(0)
    kind = next(
        (v for k, v in SCAN_SIGNATURES.items() if head.startswith(k)), "application/octet-stream"
    )
    audit_record(actor=by, action="consent.scan_downloaded", obj=consent)
    return handle, kind
