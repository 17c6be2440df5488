"""The page behind every signed link in a message (rules in bookings/links.py), and setting a password after
signing in with one. A GET only shows who the link is for and what it does; the button (a POST) acts."""

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from bookings import link_actions, links, selectors
from bookings.models import SignedLink
from clinic import access
from clinic.message_text import place

REFUSED_STATUS = {"unknown": 404, "expired": 410, "used": 410, "gone": 410, "refused": 409}
SIGNED_IN_BY_LINK = "signed_in_by_link"


def _who(link: SignedLink) -> str:
    """First name and initial: enough for the patient to recognise the link, little for anyone else."""
    user = link.patient.user
    initial = f" {user.last_name[:1]}." if user.last_name else ""
    return f"{user.first_name}{initial}".strip() or "the patient it was sent to"


def _refused(request, refusal: links.LinkRefused):
    link = refusal.link
    # A sign-in link opened again in the browser it already signed in: simply go on.
    same_patient = link is not None and request.user.pk == link.patient.user_id
    if refusal.reason == "used" and same_patient and link.action in links.SIGN_IN_ACTIONS:
        return redirect(links.destination(link))
    # The phone to call is the link's appointment's site, else the patient's (`selectors.patient_site`).
    if link is None:
        site = None
    else:
        site = link.appointment.site if link.appointment_id else selectors.patient_site(link.patient)
    return render(
        request,
        "links/refused.html",
        {"refusal": refusal, "clinic": place(site)},
        status=REFUSED_STATUS.get(refusal.reason, 400),
    )


@require_http_methods(["GET", "POST"])
def signed_link(request, token):
    try:
        link = links.check_link(token)
    except links.LinkRefused as refusal:
        return _refused(request, refusal)
    signs_in = link.action in links.SIGN_IN_ACTIONS
    if signs_in and not access.may_sign_in_by_link(link.patient.user):
        return _refused(request, links.LinkRefused("refused", "This link cannot be used. Nothing has been changed."))
    if request.method == "GET":
        return render(request, "links/open.html", {"link": link, "who": _who(link), "signs_in": signs_in})
    try:
        link = link_actions.use_link(token)
    except links.LinkRefused as refusal:
        return _refused(request, refusal)
    if signs_in:
        login(request, link.patient.user, backend="clinic.backends.UserBackend")
        request.session[SIGNED_IN_BY_LINK] = True
        return redirect(links.destination(link))
    return render(request, "links/done.html", {"link": link, "who": _who(link)})


@login_required
@require_http_methods(["GET", "POST"])
def set_password(request):
    """After signing in with a link: choose a password, to sign in later without one. Only in a session that
    a link opened (elsewhere the usual 'change password', which asks for the old one)."""
    if not request.session.get(SIGNED_IN_BY_LINK):
        raise Http404("Use 'change password' in your profile.")
    form = SetPasswordForm(request.user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            update_session_auth_hash(request, form.user)
            request.session.pop(SIGNED_IN_BY_LINK, None)
            messages.success(request, "Your password is set: sign in with your email address and it next time.")
            return redirect("home")
        messages.error(request, "The password is not set: please correct the fields marked below.")
    return render(request, "links/set_password.html", {"form": form})
