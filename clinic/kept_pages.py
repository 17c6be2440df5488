"""A page kept per process as rendered, with holes for what each request puts in (issue 16): the part that
changes (the desk's grid, the booking page's times list) and the request's CSRF token.

The booking page (bookings/kept_times.py) and the desk's day view (bookings/frontdesk/day_cache.py) each keep
the page around their kept part under everything else it shows; this is how such a page is cut and filled:
rendered once with `CONTENT_HOLE` and `CSRF_HOLE` in the context (as the part's and `csrf_token`'s values),
cut at them (`HoledPage.cut`), and written for each request with its part and a token masked afresh for it
(`clinic.csrf.masked_token`: Django's `get_token`, as `{% csrf_token %}` gives it, its cookie set, in fewer
calls), the one way both pages fill the token's hole.
"""

import functools
import re
import secrets
from dataclasses import dataclass

# Unguessable, so no text a page shows can contain one (and nothing in them is escaped in HTML).
_MARK = f"\x00{secrets.token_hex(8)}:"
CONTENT_HOLE = f"{_MARK}content\x00"
CSRF_HOLE = f"{_MARK}csrf\x00"
_HOLES = re.compile(f"({re.escape(CONTENT_HOLE)}|{re.escape(CSRF_HOLE)})")


@dataclass(frozen=True)
class HoledPage:
    """A rendered page: `texts` around `holes` (CONTENT_HOLE or CSRF_HOLE, one text more than holes)."""

    texts: tuple
    holes: tuple

    @classmethod
    def cut(cls, rendered: str) -> "HoledPage":
        pieces = _HOLES.split(rendered)
        holes = pieces[1::2]
        assert holes.count(CONTENT_HOLE) == 1, "the page holds its kept part once"
        return cls(tuple(pieces[0::2]), tuple(holes))

    @functools.cached_property
    def encoded(self) -> tuple:
        """`texts` encoded once (UTF-8), for `body`."""
        return tuple(text.encode() for text in self.texts)

    def body(self, content: list, csrf_token: str) -> bytes:
        """The page as the response's bytes: the kept texts encoded once, `content` the kept part as bytes
        pieces (or memoryviews of them), the request's own token in every CSRF hole: joined once, nothing
        encoded again but the token."""
        token = csrf_token.encode()
        encoded = self.encoded
        parts = [encoded[0]]
        for hole, text in zip(self.holes, encoded[1:], strict=True):
            if hole == CONTENT_HOLE:
                parts.extend(content)
            else:
                parts.append(token)
            parts.append(text)
        return b"".join(parts)
