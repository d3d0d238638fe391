"""Encryption at rest for the most sensitive columns (legal names, session notes).

A value is stored as a Fernet token (AES-128-CBC + HMAC-SHA256) made with the first key of
`settings.FIELD_ENCRYPTION_KEYS`; every key in the list can decrypt, so a new key is put first,
`manage.py rotate_encryption_keys` re-encrypts everything with it, and the old key can then be
dropped. The database never sees the plaintext or the keys — which also means it cannot search,
filter or sort on these columns (only `=""` / `isnull` work, because an empty value is stored
empty).
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core import checks, validators
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """A stored value could not be decrypted with any of FIELD_ENCRYPTION_KEYS."""


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off "
            "(generate one with `manage.py rotate_encryption_keys --generate-key`)."
        )
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def field_cipher() -> MultiFernet:
    """The cipher for the keys currently configured (first encrypts, all decrypt)."""
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_str(value: str) -> str:
    return field_cipher().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_str(token: str) -> str:
    try:
        return field_cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError(
            "A stored value cannot be decrypted with any of FIELD_ENCRYPTION_KEYS "
            "(a key was removed before `manage.py rotate_encryption_keys` ran?)."
        ) from exc


class EncryptedTextField(models.TextField):
    """A TextField whose non-empty values are encrypted in the database.

    `max_length` counts characters of the plaintext and is enforced by validation, since the
    stored token is longer than the text.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.max_length is not None:
            self.validators.append(validators.MaxLengthValidator(self.max_length))

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_str(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_str(value)


class EncryptedCharField(EncryptedTextField):
    """A one-line encrypted value (a name, a theme): edited in a text input, not a textarea."""

    def formfield(self, **kwargs):
        return super().formfield(**{"widget": forms.TextInput, **kwargs})


class EncryptedJSONField(EncryptedTextField):
    """A JSON value stored as one encrypted token in a text column (nothing in it can be
    searched by the database, which is the point)."""

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt_str(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value if value is None else {}
        return json.loads(decrypt_str(value))

    def to_python(self, value):
        if isinstance(value, str):
            return json.loads(value) if value else {}
        return value

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj), ensure_ascii=False, sort_keys=True)

    def formfield(self, **kwargs):
        return forms.JSONField(**kwargs)


def encrypted_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs=None, **kwargs):
    """Malformed keys are reported by `manage.py check` (and so before runserver or migrate).
    Missing ones only by `check --deploy`: commands that need no key run without one."""
    if not settings.FIELD_ENCRYPTION_KEYS:
        return []
    try:
        field_cipher()
    except (ValueError, TypeError) as exc:
        return [
            checks.Error(
                f"FIELD_ENCRYPTION_KEYS is not a comma-separated list of Fernet keys: {exc}",
                hint="Generate one with `manage.py rotate_encryption_keys --generate-key`.",
                id="clinics.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_encryption_keys_set(app_configs=None, **kwargs):
    if settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [
        checks.Error(
            "FIELD_ENCRYPTION_KEYS is not set: legal names and notes cannot be read or written.",
            hint="Generate one with `manage.py rotate_encryption_keys --generate-key`.",
            id="clinics.E002",
        )
    ]


def _rewrite_column(schema_editor, model, field_names, transform) -> None:
    """Rewrite the stored values of some columns, row by row, with raw SQL (for migrations)."""
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    with connection.cursor() as cursor:
        for name in field_names:
            column = qn(model._meta.get_field(name).column)
            # Identifiers come from the model's meta and are quoted; values are parameters.
            select = f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''"  # noqa: S608 - quoted identifiers  # nosec B608
            update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608 - quoted identifiers  # nosec B608
            cursor.execute(select)
            rows = [(transform(value), key) for key, value in cursor.fetchall()]
            cursor.executemany(update, rows)


def _encrypt_if_plain(value: str) -> str:
    try:
        decrypt_str(value)
        return value  # already encrypted (the migration ran before, partly)
    except DecryptionError:
        return encrypt_str(value)


def encrypt_columns(model_name: str, *field_names: str):
    """A RunPython pair that encrypts existing plaintext rows (and decrypts them on reverse)."""

    def forward(apps, schema_editor):
        _rewrite_column(schema_editor, apps.get_model(model_name), field_names, _encrypt_if_plain)

    def backward(apps, schema_editor):
        _rewrite_column(schema_editor, apps.get_model(model_name), field_names, decrypt_str)

    return forward, backward
