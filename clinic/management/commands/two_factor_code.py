"""Print the current one-time code of a user's authenticator, for signing in to a development copy (the demo
admin needs two-factor sign-in) without an app. Refused when DEBUG is off: in production only the user's own
device may give codes."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.two_factor import manual_entry_key


class Command(BaseCommand):
    help = "Development only: print the current two-factor code (and key) of a user's confirmed authenticator."

    def add_arguments(self, parser):
        parser.add_argument("email", help="the user's email, e.g. admin@clinic.example")

    def handle(self, *args, email, **options):
        if not settings.DEBUG:
            raise CommandError("two_factor_code works only with DEBUG on (a development copy).")
        device = TOTPDevice.objects.filter(user__email__iexact=email, confirmed=True).first()
        if device is None:
            raise CommandError(f"{email} has no confirmed authenticator (run make seed for the demo admin's).")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        seconds_left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"valid for {seconds_left} more seconds; key for an app: {manual_entry_key(device)}")
