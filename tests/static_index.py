"""WhiteNoise's index of the static files, built once per test process instead of once per test client.

Under the suite, `WHITENOISE_USE_FINDERS` is on (DEBUG=1 in the environment) and WhiteNoise's autorefresh off
(the test runner turns `settings.DEBUG` off), so every new `WhiteNoiseMiddleware` walks every finder's files
and stats them (`add_files_from_finders`: Django admin's, DRF's, Swagger UI's and ours). Each test client
builds its own middleware chain on its first request, and so did every test: 3% of the suite's Python CPU
(py-spy over a whole `make test`, docs/benchmarks.md, "ninth pass").

Here the index a middleware built is kept, under everything it depends on (the finders, the static
directories and apps they read, the URL prefix, and the middleware's header settings), and a middleware built
with the same ones starts from it. The files are not expected to change during a run; a test that overrides
one of those settings gets an index of its own. `tests/test_static_index.py` checks that the kept index is
the one WhiteNoise builds.
"""

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware

# the key below -> {url: StaticFile}, as add_files_from_finders leaves it in `files`
_INDEXES: dict = {}
_build_index = WhiteNoiseMiddleware.add_files_from_finders


def install() -> None:
    WhiteNoiseMiddleware.add_files_from_finders = _add_files_from_finders


def _key(middleware) -> tuple:
    return (
        middleware.static_prefix,
        middleware.max_age,
        middleware.allow_all_origins,
        middleware.charset,
        middleware.add_headers_function,
        getattr(middleware.immutable_file_test, "__func__", middleware.immutable_file_test),  # a method, unbound
        tuple(settings.STATICFILES_FINDERS),
        tuple(str(directory) for directory in settings.STATICFILES_DIRS),
        tuple(settings.INSTALLED_APPS),
        repr(settings.STORAGES),  # which names are versioned, so cached for ever
    )


def _add_files_from_finders(middleware) -> None:
    key = _key(middleware)
    if key not in _INDEXES:
        before = set(middleware.files)
        _build_index(middleware)
        _INDEXES[key] = {url: file for url, file in middleware.files.items() if url not in before}
    middleware.files.update(_INDEXES[key])
