# Encryption at rest of session notes (issue 7): the columns become text holding Fernet tokens,
# and the rows written before are encrypted in place.

import clinics.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('group_sessions', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='noteaddendum',
            name='text',
            field=clinics.fields.EncryptedTextField(verbose_name='text'),
        ),
        migrations.AlterField(
            model_name='noterevision',
            name='text',
            field=clinics.fields.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='noterevision',
            name='theme',
            field=clinics.fields.EncryptedCharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='sessionnote',
            name='text',
            field=clinics.fields.EncryptedTextField(verbose_name='text'),
        ),
        migrations.AlterField(
            model_name='sessionnote',
            name='theme',
            field=clinics.fields.EncryptedCharField(blank=True, max_length=200, verbose_name='theme'),
        ),
        migrations.RunPython(
            *clinics.fields.encrypt_columns("group_sessions.SessionNote", "theme", "text")
        ),
        migrations.RunPython(
            *clinics.fields.encrypt_columns("group_sessions.NoteRevision", "theme", "text")
        ),
        migrations.RunPython(*clinics.fields.encrypt_columns("group_sessions.NoteAddendum", "text")),
    ]
