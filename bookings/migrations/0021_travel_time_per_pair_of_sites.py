"""The travel time between two sites is each pair's own (`clinic.SiteTravel`, else `CLINIC_TRAVEL_MINUTES`),
held by the database.

0019's exclusion constraint compared `[start_at, travel_until)` of two live appointments of one practitioner
at two sites: one figure for every pair, because an exclusion constraint compares two rows with one
operator and cannot look a figure up for the pair. It is replaced by a trigger that checks the same thing
with the pair's figure:

- it takes a transaction-level advisory lock on the practitioner (a key hashed from the trigger's name and
  the practitioner's id) before it looks, so two bookings of one practitioner at two sites check one after the other and the second
  sees the first once it has committed (READ COMMITTED: each statement of the function reads afresh). The
  transaction's `lock_timeout` (clinic.locks) bounds the wait like any row lock's; bookings of different
  practitioners never wait on each other here;
- a clash raises SQLSTATE 23P01 (exclusion_violation) naming `appointment_practitioner_travel`, as the
  constraint did, so the booking service's "just taken" and every caller's handling are unchanged;
- a pair with no figure of its own keeps the one the new row was saved with (`travel_until - busy_until`,
  `CLINIC_TRAVEL_MINUTES` then).

A write to the travel times bumps the "clinic" availability scope, like any other part of the set-up.
SQLite has neither: the booking service's check in its transaction holds the rule there.
"""

from django.db import migrations

LIVE = "('awaiting_deposit', 'booked', 'checked_in', 'completed')"

CHECK = rf"""
CREATE OR REPLACE FUNCTION bookings_practitioner_travel() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    fallback interval := coalesce(NEW.travel_until, NEW.busy_until) - NEW.busy_until;
    longest interval;
    clash bigint;
BEGIN
    IF NEW.status NOT IN {LIVE} THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('appointment_practitioner_travel', NEW.practitioner_id));
    SELECT greatest(fallback, coalesce(max(make_interval(mins => minutes)), fallback)) INTO longest
      FROM clinic_sitetravel WHERE NEW.site_id IN (from_site_id, to_site_id);
    SELECT other.id INTO clash
      FROM bookings_appointment other
      LEFT JOIN clinic_sitetravel pair
        ON pair.from_site_id = least(other.site_id, NEW.site_id)
       AND pair.to_site_id = greatest(other.site_id, NEW.site_id)
     WHERE other.practitioner_id = NEW.practitioner_id
       AND other.id <> NEW.id
       AND other.site_id <> NEW.site_id
       AND other.status IN {LIVE}
       -- the practitioner's no-overlap index (bookings 0016) finds the candidates
       AND tstzrange(other.start_at, other.busy_until, '[)')
           && tstzrange(NEW.start_at - longest, NEW.busy_until + longest, '[)')
       AND other.start_at < NEW.busy_until + coalesce(make_interval(mins => pair.minutes), fallback)
       AND NEW.start_at < other.busy_until + coalesce(make_interval(mins => pair.minutes), fallback)
     LIMIT 1;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'appointment % leaves practitioner % too little time to travel from appointment %',
            NEW.id, NEW.practitioner_id, clash
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'appointment_practitioner_travel';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER appointment_practitioner_travel
AFTER INSERT OR UPDATE OF start_at, busy_until, site_id, practitioner_id, status ON bookings_appointment
FOR EACH ROW EXECUTE FUNCTION bookings_practitioner_travel();
CREATE TRIGGER clinic_sitetravel_availability AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clinic_sitetravel
FOR EACH STATEMENT EXECUTE FUNCTION bookings_availability_clinic();
ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS appointment_practitioner_travel;
"""

ONE_FIGURE = rf"""
DROP TRIGGER IF EXISTS clinic_sitetravel_availability ON clinic_sitetravel;
DROP TRIGGER IF EXISTS appointment_practitioner_travel ON bookings_appointment;
DROP FUNCTION IF EXISTS bookings_practitioner_travel();
ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_practitioner_travel EXCLUDE USING gist
(practitioner_id WITH =, site_id WITH <>, tstzrange(start_at, coalesce(travel_until, busy_until), '[)') WITH &&)
WHERE (status IN {LIVE});
"""

SQLITE_BUMP = (
    "INSERT INTO bookings_availabilityscope (scope, value) VALUES ('clinic', 1) "
    "ON CONFLICT (scope) DO UPDATE SET value = value + 1"
)


def per_pair(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CHECK, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for event in ("INSERT", "UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER clinic_sitetravel_availability_{event.lower()} AFTER {event} ON clinic_sitetravel "
                f"BEGIN {SQLITE_BUMP}; END"
            )


def one_figure(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ONE_FIGURE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for event in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS clinic_sitetravel_availability_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0020_availability_scopes_per_room"),
        ("clinic", "0012_site_travel"),
    ]

    operations = [migrations.RunPython(per_pair, one_figure)]
