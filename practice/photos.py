"""Progress photos: what an upload must be. Who may see one is `clinic.access.may_see_photo`.

An upload is accepted by its content, never its name or the browser's content type: Pillow must read it as
a JPEG, PNG or WebP image within the size limit. It is never at a public URL (`practice.private_storage`).
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image

MAX_PHOTO_BYTES = 8 * 1024 * 1024
ACCEPTED_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    extension: str


def check_photo(upload) -> CheckedImage:
    """Raise ValidationError (a message for the practitioner) unless the upload is an image we keep."""
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(f"The photo is too large: the limit is {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            image.verify()
    except Exception:  # Pillow raises many kinds for a file that is not an image (or a decompression bomb)
        raise ValidationError("That file is not a photo we can read: upload a JPEG, PNG or WebP image.") from None
    finally:
        upload.seek(0)
    if image_format not in ACCEPTED_FORMATS:
        raise ValidationError("Only JPEG, PNG or WebP photos are accepted.")
    return CheckedImage(*ACCEPTED_FORMATS[image_format])
