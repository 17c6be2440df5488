"""The practice app takes over the tables consultations created (consultations 0003), rows and all.

State only for the tables (`db_table` keeps their names), so nothing is copied or locked. The content types
move too, so the audit trail's entries, the admin's history and the staff roles' permissions about these
records stay attached to them.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import practice.models
import practice.private_storage
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


MOVED_MODELS = ["intakeconfirmation", "photoconsent", "sessionrecord", "sessionphoto", "sessionarea", "courseplan"]


def move_content_types(apps, schema_editor, source="consultations", target="practice"):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED_MODELS:
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, source="practice", target="consultations")



class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('bookings', '0009_reminder_kind_moved'),
        ('clinic', '0003_erasure_request'),
        ('consultations', '0005_session_records_move_to_practice'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IntakeConfirmation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('intake_version', models.PositiveIntegerField()),
                        ('confirmed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('appointment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='bookings.appointment')),
                        ('intake', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='confirmations', to='consultations.intakeform')),
                    ],
                    options={
                        'db_table': 'consultations_intakeconfirmation',
                        'ordering': ['-confirmed_at'],
                    },
                ),
                migrations.CreateModel(
                    name='PhotoConsent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('given_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('withdrawn_at', models.DateTimeField(blank=True, null=True)),
                        ('patient', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='photo_consent', to='clinic.patient')),
                    ],
                    options={
                        'db_table': 'consultations_photoconsent',
                    },
                ),
                migrations.CreateModel(
                    name='SessionRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('device', models.CharField(max_length=120)),
                        ('needle_depth_mm', models.DecimalField(decimal_places=2, max_digits=4, validators=[django.core.validators.MinValueValidator(Decimal('0.25')), django.core.validators.MaxValueValidator(Decimal('3.00'))], verbose_name='needle depth (mm)')),
                        ('passes', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(12)])),
                        ('product', models.CharField(blank=True, max_length=160, verbose_name='serum or product')),
                        ('reactions', models.TextField(blank=True, help_text='Redness, pinpoint bleeding, swelling...')),
                        ('notes', models.TextField(blank=True, help_text='Never shown to the patient.', verbose_name="practitioner's notes")),
                        ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('appointment', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='session_record', to='bookings.appointment')),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='session_records', to='clinic.patient')),
                        ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'consultations_sessionrecord',
                        'ordering': ['-recorded_at'],
                    },
                ),
                migrations.CreateModel(
                    name='SessionPhoto',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('area', models.CharField(blank=True, choices=[('thighs', 'Thighs'), ('buttocks', 'Buttocks'), ('abdomen', 'Abdomen'), ('arms', 'Upper arms')], max_length=20)),
                        ('image', models.FileField(storage=practice.private_storage.PrivateStorage(), upload_to=practice.models.photo_file_name)),
                        ('content_type', models.CharField(max_length=40)),
                        ('uploaded_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('uploaded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('record', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='photos', to='practice.sessionrecord')),
                    ],
                    options={
                        'db_table': 'consultations_sessionphoto',
                        'ordering': ['uploaded_at', 'pk'],
                    },
                ),
                migrations.CreateModel(
                    name='SessionArea',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('area', models.CharField(choices=[('thighs', 'Thighs'), ('buttocks', 'Buttocks'), ('abdomen', 'Abdomen'), ('arms', 'Upper arms')], max_length=20)),
                        ('scale', models.CharField(choices=[('hexsel', 'Hexsel Cellulite Severity Scale (1-15)'), ('nurnberger_muller', 'Nürnberger-Müller (0-3)')], max_length=20)),
                        ('grade', models.PositiveSmallIntegerField()),
                        ('record', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='areas', to='practice.sessionrecord')),
                    ],
                    options={
                        'db_table': 'consultations_sessionarea',
                        'ordering': ['record', 'area'],
                    },
                ),
                migrations.CreateModel(
                    name='CoursePlan',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('sessions', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(20)])),
                        ('interval_days', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(365)])),
                        ('starts_on', models.DateField(default=django.utils.timezone.localdate, help_text='The first session is due from then.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='course_plans', to='clinic.patient')),
                        ('practitioner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinic.practitioner')),
                        ('treatment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinic.treatment')),
                    ],
                    options={
                        'db_table': 'consultations_courseplan',
                        'ordering': ['-updated_at'],
                        'constraints': [models.UniqueConstraint(fields=('patient', 'treatment'), name='course_plan_once_per_treatment'), models.CheckConstraint(condition=models.Q(('sessions__gte', 1)), name='course_plan_sessions_positive')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='sessionrecord',
                    constraint=models.CheckConstraint(condition=models.Q(('needle_depth_mm__gte', Decimal('0.25')), ('needle_depth_mm__lte', Decimal('3.00'))), name='session_needle_depth_in_range'),
                ),
                migrations.AddConstraint(
                    model_name='sessionrecord',
                    constraint=models.CheckConstraint(condition=models.Q(('passes__gte', 1), ('passes__lte', 12)), name='session_passes_in_range'),
                ),
                migrations.AddConstraint(
                    model_name='sessionarea',
                    constraint=models.UniqueConstraint(fields=('record', 'area'), name='session_area_once'),
                ),
                migrations.AddConstraint(
                    model_name='sessionarea',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('grade__gte', 1), ('grade__lte', 15), ('scale', 'hexsel')), models.Q(('grade__gte', 0), ('grade__lte', 3), ('scale', 'nurnberger_muller')), _connector='OR'), name='session_grade_in_scale_range'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
