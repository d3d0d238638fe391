"""Certificate facts (the holder's legal name where consented) move from a jsonb column in
clear to one encrypted token in a text column; existing rows are encrypted in place."""

import clinics.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='reportrun',
            name='certificate_facts',
            field=clinics.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(
            *clinics.fields.encrypt_columns("reports.ReportRun", "certificate_facts")
        ),
    ]
