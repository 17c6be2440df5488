"""Two-factor sign-in (TOTP) for staff: required for clinic admins, and for any staff member who set it up.

The rule lives here alone: `two_factor_required(user)`. The middleware holds such a user, once signed in
with a password, on the verify (or set-up) page until they give a valid code from their authenticator app.
"""

import base64

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import LazyObject, empty
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import roles
from .redirects import safe_next

EXEMPT_URL_NAMES = ("two_factor_setup", "two_factor_verify", "logout")


def has_confirmed_device(user) -> bool:
    # The signed-in user of a request comes with the answer, read in the same query as the user
    # (clinic.backends.users_with_roles): as fresh as the user row itself. Any other user object asks.
    known = user.__dict__.get("has_confirmed_totp")
    if known is not None:
        return known
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def must_set_up(user) -> bool:
    return user.is_superuser or roles.is_clinic_admin(user)


def two_factor_required(user) -> bool:
    if not user.is_authenticated:
        return False
    if must_set_up(user):
        return True
    return roles.is_staff_member(user) and has_confirmed_device(user)


class TwoFactorMiddleware:
    """Holds a user who must give a second factor on the verify (or set-up) page. It reads the user on every
    request, so from here on the request carries the user itself rather than Django's lazy proxy of it
    (`unwrapped_user`): each attribute read through the proxy costs calls, and the rest of the request (the
    idle timeout, the view's guards, the templates) reads it dozens of times."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.exempt_paths = None

    def __call__(self, request):
        unwrapped_user(request)
        if self.must_verify_first(request):
            target = "two_factor_verify" if has_confirmed_device(request.user) else "two_factor_setup"
            return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        return self.get_response(request)

    def must_verify_first(self, request) -> bool:
        user = request.user
        if not user.is_authenticated or user.is_verified() or self.is_exempt(request.path):
            return False
        return two_factor_required(user)

    def is_exempt(self, path: str) -> bool:
        if self.exempt_paths is None:
            self.exempt_paths = tuple(reverse(name) for name in EXEMPT_URL_NAMES)
        return path.startswith(self.exempt_paths) or path.startswith("/static/")


def unwrapped_user(request) -> None:
    """Replace `request.user`, Django's (and django-otp's) lazy proxy, by the user it stands for, loaded now:
    the same object, so every attribute (`is_verified`, `otp_device`) and every later change is the same."""
    user = request.user
    while isinstance(user, LazyObject):  # django-otp's proxy wraps Django's: both, down to the user
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    request.user = user


class TokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code from your authenticator app",
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, device, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_token(self):
        token = self.cleaned_data["token"].strip()
        allowed, _ = self.device.verify_is_allowed()
        if not allowed:  # each wrong code doubles the wait before the next try (django-otp throttling)
            raise forms.ValidationError("Too many wrong codes in a row: wait a few seconds, then try the newest code.")
        if not token.isdigit() or not self.device.verify_token(token):
            raise forms.ValidationError("That code is not right. Check the time on your phone and try the newest code.")
        return token


def manual_entry_key(device: TOTPDevice) -> str:
    """The device's secret as authenticator apps take it typed in: base32 (RFC 4648, as in the QR code's
    otpauth:// URL), in groups of four. `device.key` is hex, which the apps read as different bytes."""
    encoded = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def qr_code_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@login_required
def two_factor_setup(request):
    if not (roles.is_staff_member(request.user) or request.user.is_superuser):
        messages.info(request, "Two-factor sign-in is for clinic staff.")
        return redirect("home")
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": "Authenticator app"}
    )
    form = TokenForm(device, request.POST or None)
    if request.method == "POST" and form.is_valid():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
        otp_login(request, device)
        messages.success(request, "Two-factor sign-in is on. You will be asked for a code each time you sign in.")
        return redirect(safe_next(request, reverse("start")))
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": mark_safe(qr_code_svg(device.config_url)),
            "secret": manual_entry_key(device),
        },
    )


@login_required
def two_factor_verify(request):
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        return redirect(f"{reverse('two_factor_setup')}?{urlencode({'next': safe_next(request, '/')})}")
    form = TokenForm(device, request.POST or None)
    if request.method == "POST" and form.is_valid():
        otp_login(request, device)
        messages.success(request, "Signed in.")
        return redirect(safe_next(request, reverse("start")))
    return render(request, "registration/two_factor_verify.html", {"form": form})
