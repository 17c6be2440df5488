"""The app serves its own assets (no CDN): WhiteNoise, finding each file when it is asked for under DEBUG."""

import pytest
from whitenoise.middleware import WhiteNoiseMiddleware


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/static/vendor/bootstrap.min.css", "text/css"),
        ("/static/vendor/htmx.min.js", "text/javascript"),
        ("/static/clinic/site.css", "text/css"),
        ("/static/admin/css/base.css", "text/css"),  # an app's files, through the finders
    ],
)
def test_the_pages_assets_are_served_by_the_app(client, path, kind):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(kind)
    assert b"".join(response.streaming_content)


def test_a_missing_asset_is_not_found(client):
    assert client.get("/static/vendor/no-such-file.css").status_code == 404


def test_a_new_middleware_does_not_walk_every_static_file():
    """Each test client builds its own middleware; with DEBUG in the environment WhiteNoise must find files
    on request (WHITENOISE_AUTOREFRESH), not index all of them first, as it would with the test runner's
    DEBUG off: that cost 9 to 29 ms a test client (docs/testing.md)."""
    middleware = WhiteNoiseMiddleware(get_response=None)
    assert middleware.autorefresh and middleware.files == {}
