"""Reads for the clinic's public pages."""

import functools

from django.db import connection
from django.db.models import Prefetch

from .models import Practitioner, Site, Treatment, WorkingHours
from .prepared import execute_prepared


def bookable_treatments():
    return Treatment.objects.filter(active=True)


def active_practitioners():
    return (
        Practitioner.objects.filter(active=True)
        .select_related("user")
        .prefetch_related(Prefetch("treatments", queryset=bookable_treatments()))
    )


def practitioner_profile(slug: str):
    return (
        active_practitioners()
        .prefetch_related(Prefetch("working_hours", queryset=WorkingHours.objects.order_by("weekday", "start")))
        .get(slug=slug)
    )


def sites_for_desk(user) -> list:
    """The active sites, each with `mine`: whether `user` works there (`Site.staff`). One query: the desk's
    site switcher and its default (`clinic.access.desk_default_sites`), on every desk page. Its SQL is
    written once per process from the model (built through the ORM, with its `Exists`, it cost some 2,400
    Python calls a request) and prepared once a connection on PostgreSQL."""
    sql, fields = _sites_for_desk_sql()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute_prepared(
                cursor, "clinic_sites_for_desk", sql.replace("%s", "$1"), ("bigint",), [getattr(user, "pk", None)]
            )
        else:
            cursor.execute(sql, [getattr(user, "pk", None)])
        rows = cursor.fetchall()
    sites = []
    for *values, mine in rows:
        site = Site.from_db(connection.alias, fields, values)
        site.mine = bool(mine)
        sites.append(site)
    return sites


@functools.cache
def _sites_for_desk_sql() -> tuple[str, list]:
    """(the SQL of `sites_for_desk`, with %s for the user's id; the attribute names of its columns, in order):
    what `Site.objects.active().annotate(mine=Exists(...))` reads, in the model's ordering."""
    site, works_here = Site._meta, Site.staff.through._meta
    fields = site.concrete_fields
    columns = ", ".join(f's."{field.column}"' for field in fields)
    site_column, user_column = works_here.get_field("site").column, works_here.get_field("user").column
    sql = (
        f'SELECT {columns}, EXISTS(SELECT 1 FROM "{works_here.db_table}" AS w'
        f' WHERE w."{site_column}" = s."{site.pk.column}" AND w."{user_column}" = %s)'
        f' FROM "{site.db_table}" AS s WHERE s."active"'
        f' ORDER BY s."display_order", s."name", s."{site.pk.column}"'
    )
    return sql, [field.attname for field in fields]


def several_sites() -> bool:
    """Whether the clinic has more than one active site: pages name each appointment's site only then."""
    return Site.objects.active().count() > 1
