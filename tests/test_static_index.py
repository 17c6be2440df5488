"""The suite's kept index of static files (tests/static_index.py) is the one WhiteNoise builds."""

import pytest
from django.test import override_settings
from whitenoise.middleware import WhiteNoiseMiddleware

from tests import static_index

# The finders are on under `make test` (DEBUG=1 in the environment); these tests say so themselves.
pytestmark = pytest.mark.usefixtures("finders_on")


@pytest.fixture
def finders_on(settings):
    settings.WHITENOISE_USE_FINDERS = True


def _fresh_index() -> dict:
    """What WhiteNoise's own add_files_from_finders gives a new middleware: {url: (path, headers)}."""
    middleware = WhiteNoiseMiddleware(get_response=None)
    middleware.files.clear()
    static_index._build_index(middleware)
    return _described(middleware.files)


def _described(files) -> dict:
    return {url: [(path, sorted(headers)) for _, path, headers in file.alternatives] for url, file in files.items()}


def test_a_new_middleware_gets_the_index_whitenoise_would_build():
    kept = _described(WhiteNoiseMiddleware(get_response=None).files)
    assert "/static/vendor/bootstrap.min.css" in kept
    assert "/static/admin/css/base.css" in kept
    assert kept == _fresh_index()


def test_two_middlewares_share_the_index_built_once():
    first, second = WhiteNoiseMiddleware(get_response=None), WhiteNoiseMiddleware(get_response=None)
    url = "/static/vendor/bootstrap.min.css"
    assert first.files[url] is second.files[url]


def test_another_static_url_gets_an_index_of_its_own():
    with override_settings(STATIC_URL="/assets/"):
        moved = WhiteNoiseMiddleware(get_response=None).files
        assert "/assets/vendor/bootstrap.min.css" in moved
        assert "/static/vendor/bootstrap.min.css" not in moved
        assert _described(moved) == _fresh_index()
