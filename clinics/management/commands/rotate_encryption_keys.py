"""Re-encrypt every encrypted column with the first key of FIELD_ENCRYPTION_KEYS.

Key rotation, step by step:
1. generate a key: `manage.py rotate_encryption_keys --generate-key`;
2. put it first in FIELD_ENCRYPTION_KEYS, keep the old key(s) after it, restart every web and
   worker process (they now write with the new key and still read the old one);
3. run `manage.py rotate_encryption_keys` once (it is safe to run again);
4. remove the old key(s) from FIELD_ENCRYPTION_KEYS and restart.
"""

from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.services import audit_record
from clinics.fields import encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value with the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate-key", action="store_true", help="Print a new key and change nothing."
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, generate_key=False, batch_size=500, **options):
        if generate_key:
            self.stdout.write(Fernet.generate_key().decode())
            return
        rows = {}
        for model in apps.get_models():
            fields = [f.attname for f in encrypted_fields(model)]
            if fields:
                rows[model._meta.label] = self.rotate_model(model, fields, batch_size)
                self.stdout.write(
                    f"{model._meta.label}: {rows[model._meta.label]} rows re-encrypted"
                )
        audit_record(actor=None, action="encryption.keys_rotated", details={"rows": rows})

    def rotate_model(self, model, fields: list[str], batch_size: int) -> int:
        # The base manager: no scoping, no guarded update(); .update() rather than save()
        # so updated_at stays as it was (a rotation is not a change a mobile app must sync).
        manager = model._base_manager
        pks = list(manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            with transaction.atomic():
                rows = manager.select_for_update().filter(pk__in=pks[start : start + batch_size])
                for pk, *values in rows.values_list("pk", *fields):
                    manager.filter(pk=pk).update(**dict(zip(fields, values, strict=True)))
        return len(pks)
