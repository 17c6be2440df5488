"""Settings for bench/throughput.py: the clinic's own settings plus one bare page to compare against, and the
availability cache's hit and miss counts.

The bare page and the counts live only here (bench/urls.py), so the app itself never serves them.
"""

from clinic.settings import *  # noqa: F403
from clinic.settings import BASE_DIR, CACHES, TEMPLATES

ROOT_URLCONF = "bench.urls"
# The same answer cache, counting its hits and misses (bench/counting.py).
CACHES["availability"]["BACKEND"] = "bench.counting.CountingAnswerCache"
if "answers" in CACHES:  # pooled in Redis: what a process's miss finds there is counted too
    CACHES["answers"]["BACKEND"] = "bench.counting.CountingAnswerPool"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
