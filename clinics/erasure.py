"""Finding a person's identity in free text, for erasure (clinics.services.participant_erase).

A note or a message may name the person in passing ("Anna said…"); erasure replaces their
legal name and alias wherever they appear as words with their pseudonymous code.
"""

import re

MIN_LENGTH = 3  # a two-letter alias would match too much ordinary text


def identity_pattern(*, legal_name: str, alias: str, code: str) -> re.Pattern | None:
    # Whole names only: a first name alone would also strike out every other Anna in a note.
    names = {legal_name.strip(), alias.strip()} - {"", code}
    names = sorted((n for n in names if len(n) >= MIN_LENGTH), key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b", re.IGNORECASE)


def redact(text: str, pattern: re.Pattern | None, code: str) -> str:
    if not text or pattern is None:
        return text
    return pattern.sub(code, text)
