"""The clinic's URLs plus /bench/bare/: the reference page of bench/throughput.py."""

from django.shortcuts import render
from django.urls import include, path


def bare(request):
    """A plain Django template view through the same middleware: the floor the clinic's pages are held to."""
    return render(request, "bench/bare.html", {"title": "Bare page", "items": range(10)})


urlpatterns = [path("bench/bare/", bare), path("", include("clinic.urls"))]
