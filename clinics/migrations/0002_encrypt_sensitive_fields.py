# Encryption at rest of legal names (issue 7): the column becomes text holding Fernet tokens,
# and the rows written before are encrypted in place.

import clinics.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('clinics', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='participant',
            name='legal_name',
            field=clinics.fields.EncryptedCharField(blank=True, max_length=200, verbose_name='legal name'),
        ),
        migrations.RunPython(*clinics.fields.encrypt_columns("clinics.Participant", "legal_name")),
    ]
