"""Settings for bench/throughput.py: the clinic's own settings plus one bare page to compare against.

The bare page lives only here (bench/urls.py), so the app itself never serves it.
"""

from clinic.settings import *  # noqa: F403
from clinic.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
