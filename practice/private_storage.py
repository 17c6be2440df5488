"""Where clinical photos live: a directory outside MEDIA_ROOT that no URL maps to.

`url()` refuses on purpose, so a template can never print a public link to a photo; the only way to see one
is `practice.views.photo`, which checks who is asking and records the access.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateStorage(FileSystemStorage):
    """Reads settings.PRIVATE_MEDIA_ROOT at every use (tests point it at a temporary directory)."""

    def __init__(self):
        super().__init__()

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("Private files have no URL: link to the photo view instead.")


private_storage = PrivateStorage()
