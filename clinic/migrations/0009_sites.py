"""Several sites: the clinic's one address becomes the first `Site`, and every room, working-hours span and
treatment stays where it was.

Forward: the site is made from the settings the clinic ran on until now (`CLINIC_NAME`, `CLINIC["ADDRESS"]`,
phone, email, `CLINIC_TIME_ZONE`), every room and working-hours span joins it (then the columns become
required), closures stay clinic-wide (an empty site closes every site), and treatments stay offered
everywhere (no sites chosen). Nothing is deleted or copied. Backward: the columns and the sites go, every
room, span, treatment and closure stays (room names must then be unique again across the clinic).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils.text import slugify

import clinic.models


def make_default_site(apps, schema_editor):
    Site = apps.get_model("clinic", "Site")
    Room = apps.get_model("clinic", "Room")
    WorkingHours = apps.get_model("clinic", "WorkingHours")
    clinic = settings.CLINIC
    site = Site.objects.order_by("pk").first() or Site.objects.create(
        name=clinic["NAME"],
        slug=slugify(clinic["NAME"]) or "main",
        address=clinic["ADDRESS"],
        phone=clinic["PHONE"],
        email=clinic["EMAIL"],
        time_zone=settings.CLINIC_TIME_ZONE,
    )
    Room.objects.filter(site__isnull=True).update(site=site)
    WorkingHours.objects.filter(site__isnull=True).update(site=site)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0008_notice_texts_and_attempts"),
    ]

    operations = [
        migrations.CreateModel(
            name="Site",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(help_text="e.g. Harley Street", max_length=120, unique=True)),
                (
                    "slug",
                    models.SlugField(
                        help_text="Names the site in addresses and the API, e.g. harley-street.", unique=True
                    ),
                ),
                ("address", models.TextField(help_text="As patients read it in messages and on calendar files.")),
                ("phone", models.CharField(blank=True, max_length=32)),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "time_zone",
                    models.CharField(
                        default="Europe/London",
                        help_text="IANA name, e.g. Europe/London or Europe/Madrid: the site's wall clock.",
                        max_length=64,
                        validators=[clinic.models.valid_time_zone],
                    ),
                ),
                (
                    "bank_holidays",
                    models.CharField(
                        blank=True,
                        default="GB-ENG",
                        help_text="Whose public holidays close the site: a country, optionally with a region "
                        "(GB-ENG, GB-SCT, ES-MD, FR); empty for none. CLINIC_CLOSED_ON_BANK_HOLIDAYS=0 turns them "
                        "all off.",
                        max_length=16,
                    ),
                ),
                (
                    "active",
                    models.BooleanField(default=True, help_text="An inactive site offers no time; its history stays."),
                ),
                ("display_order", models.PositiveIntegerField(default=0)),
            ],
            options={"ordering": ["display_order", "name", "pk"]},
        ),
        migrations.CreateModel(
            name="OpeningHours",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "weekday",
                    models.IntegerField(
                        choices=[
                            (0, "Monday"),
                            (1, "Tuesday"),
                            (2, "Wednesday"),
                            (3, "Thursday"),
                            (4, "Friday"),
                            (5, "Saturday"),
                            (6, "Sunday"),
                        ]
                    ),
                ),
                ("opens", models.TimeField()),
                ("closes", models.TimeField()),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="opening_hours", to="clinic.site"
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "opening hours",
                "ordering": ["site", "weekday", "opens"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("closes__gt", models.F("opens"))), name="opening_hours_closes_after_opens"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="room",
            name="site",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="rooms", to="clinic.site"
            ),
        ),
        migrations.AddField(
            model_name="workinghours",
            name="site",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="working_hours", to="clinic.site"
            ),
        ),
        migrations.AddField(
            model_name="closure",
            name="site",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty: every site is closed.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="closures",
                to="clinic.site",
            ),
        ),
        migrations.AddField(
            model_name="treatment",
            name="sites",
            field=models.ManyToManyField(
                blank=True,
                help_text="Offered only at these sites; none chosen means every site.",
                related_name="treatments",
                to="clinic.site",
            ),
        ),
        # Going back, the sites are deleted with their table; the rows that named them stay.
        migrations.RunPython(make_default_site, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="room",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="rooms", to="clinic.site"
            ),
        ),
        migrations.AlterField(
            model_name="workinghours",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="working_hours", to="clinic.site"
            ),
        ),
        migrations.AlterField(
            model_name="room",
            name="name",
            field=models.CharField(max_length=80),
        ),
        migrations.AddConstraint(
            model_name="room",
            constraint=models.UniqueConstraint(fields=("site", "name"), name="room_name_unique_per_site"),
        ),
    ]
