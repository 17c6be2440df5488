"""The clinic's URLs plus /bench/bare/ (the reference page of bench/throughput.py) and /bench/cache-stats/."""

from django.shortcuts import render
from django.urls import include, path

from bench.counting import cache_stats


def bare(request):
    """A plain Django template view through the same middleware: the floor the clinic's pages are held to."""
    return render(request, "bench/bare.html", {"title": "Bare page", "items": range(10)})


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/cache-stats/", cache_stats),
    path("", include("clinic.urls")),
]
