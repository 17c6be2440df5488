"""The request's CSRF token for a form, as Django's `get_token` gives it, in a few Python calls (issue 16).

Django masks the secret afresh for every response (so a page compressed over TLS gives no fixed string for
BREACH to find) with 32 characters drawn one `secrets.choice` at a time, and adds them pair by pair through
generators: some 170 Python calls, a twentieth of the kept booking page's whole request. This draws the
same kind of mask (each character uniform over Django's 62, from `secrets`: bytes at or above 248 are
skipped, so none is likelier than another) and adds it in one pass: the same format, which Django's
`CsrfViewMiddleware` unmasks and checks as its own (tests/test_booking_pages.py).
"""

import secrets

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token

_CHARS = CSRF_ALLOWED_CHARS
_INDEX = {char: index for index, char in enumerate(_CHARS)}
_COUNT = len(_CHARS)
_BELOW = 256 - 256 % _COUNT  # 248: the bytes that map evenly onto the 62 characters


def _mask() -> list[int]:
    mask: list[int] = []
    while len(mask) < CSRF_SECRET_LENGTH:  # 64 bytes hold 32 usable ones all but always
        mask += [byte % _COUNT for byte in secrets.token_bytes(2 * CSRF_SECRET_LENGTH) if byte < _BELOW]
    return mask[:CSRF_SECRET_LENGTH]


def masked_token(request) -> str:
    """`django.middleware.csrf.get_token(request)`: the cookie's secret masked afresh, the cookie to be sent
    (its expiry renewed); Django's own where the request has no secret yet (it makes one)."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None or len(secret) != CSRF_SECRET_LENGTH:
        return get_token(request)
    mask = _mask()
    try:
        cipher = "".join([_CHARS[(_INDEX[char] + i) % _COUNT] for char, i in zip(secret, mask, strict=True)])
    except KeyError:  # not a secret Django made (its middleware replaces those): Django's own way
        return get_token(request)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    return "".join([_CHARS[i] for i in mask]) + cipher
