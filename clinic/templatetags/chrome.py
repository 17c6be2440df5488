"""The parts of every page around its content (templates/base.html), written once per process for each
thing they show rather than on every request, where they cost more than a bare page's whole request:

- `{% main_nav %}`: the navigation (templates/includes/nav.html), once per role as it shows it (signed
  in or not, practitioner and whose profile, patient and signed in by a link, desk, reports, staff); only the
  sign-out form's CSRF token is written per request, by Django's own `{% csrf_token %}` node;
- `{% footer %}`: the clinic's name, address, phone and email (templates/includes/footer.html);
- `{% asset 'path' %}`: a static file's URL, as `{% static %}` writes it (escaped).

A kept fragment (`kept`) is rendered from the values of its key alone, in a context holding nothing else:
a name the template reads that the key does not hold renders empty on every page, never one user's value on
another's page. The key also holds what the URLs depend on (the URL configuration, the script prefix, the
language), and the compiled template itself, so an edited template is rendered again once the template
loaders are reset (`runserver`'s autoreload). Every change of settings (tests) forgets them all.
"""

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template import Context, Engine
from django.template.defaulttags import CsrfTokenNode
from django.templatetags.static import static
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from clinic import access, roles
from clinic.kept_urls import url_state

register = template.Library()

KEPT_AT_MOST = 1000  # one a practitioner's navigation, a few a role otherwise: forgotten all at once beyond
CSRF_PLACEHOLDER = "\x00"  # what the kept navigation is rendered with in place of the token (split on it)
_kept: dict = {}
_assets: dict = {}


def kept(template_name: str, **values) -> str:
    """The template rendered with `values` alone (each hashable), once per process for each set of them."""
    engine = Engine.get_default()
    compiled = engine.get_template(template_name)  # the cached loader's, until the loaders are reset
    key = (template_name, *url_state(), get_language(), *values.items())
    found = _kept.get(key)
    if found is None or found[0] is not compiled:
        if len(_kept) >= KEPT_AT_MOST:
            _kept.clear()
        found = _kept[key] = (compiled, compiled.render(Context(values, autoescape=engine.autoescape)))
    return found[1]


def forget(**kwargs) -> None:
    _kept.clear()
    _assets.clear()


setting_changed.connect(forget, dispatch_uid="clinic.templatetags.chrome.forget")


def nav_values(user, request) -> dict:
    """What the main navigation shows for `user` (signed in by `request`): the values it is rendered from,
    which a page kept whole (the desk's day view) holds in its key too."""
    signed_in = bool(getattr(user, "is_authenticated", False))
    values = {"signed_in": signed_in, "clinic_name": settings.CLINIC["NAME"]}
    if signed_in:
        practitioner = roles.is_practitioner(user)
        patient = not practitioner and access.patient_of(user) is not None
        by_link = patient and request is not None and bool(request.session.get("signed_in_by_link"))
        values.update(
            practitioner=practitioner,
            practitioner_slug=user.practitioner.slug if practitioner else None,
            patient=patient,
            signed_in_by_link=by_link,
            front_desk=roles.is_front_desk(user),
            sees_reports=access.may_see_reports(user),
            staff=bool(user.is_staff),
            csrf_token=CSRF_PLACEHOLDER,
        )
    return values


@register.simple_tag(takes_context=True)
def main_nav(context):
    """The main navigation for whoever is signed in (templates/includes/nav.html sees only the values below)."""
    values = nav_values(context.get("user"), context.get("request"))
    markup = kept("includes/nav.html", **values)
    if not values["signed_in"]:
        return mark_safe(markup)  # noqa: S308 - rendered by the template engine, autoescaped
    before, placeholder, after = markup.partition(CsrfTokenNode().render({"csrf_token": CSRF_PLACEHOLDER}))
    assert placeholder and CSRF_PLACEHOLDER not in after, "the navigation holds one sign-out form"
    # Django's node, as {% csrf_token %} writes it: the token masked afresh for this response, its cookie set.
    return mark_safe(before + CsrfTokenNode().render(context) + after)  # noqa: S308 - as above; the node escapes


@register.simple_tag
def footer():
    clinic = settings.CLINIC
    return mark_safe(  # noqa: S308 - rendered by the template engine, autoescaped
        kept(
            "includes/footer.html",
            name=clinic["NAME"],
            address=clinic["ADDRESS"],
            phone=clinic["PHONE"],
            email=clinic["EMAIL"],
        )
    )


@register.simple_tag
def asset(path: str):
    """`{% static path %}`, worked out once per process (the manifest of hashed names is read at start)."""
    found = _assets.get(path)
    if found is None:
        found = _assets[path] = conditional_escape(static(path))
    return found
