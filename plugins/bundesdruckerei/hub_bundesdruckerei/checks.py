"""What an attachment is, judged by its bytes, not its name.

- photo: decodes as JPEG or JPEG 2000 (Pillow), portrait, in the 35:45 aspect ratio of a
  passport photo and at least 413 × 531 pixels (see :class:`PhotoRules` for the source);
- fingerprint: WSQ (ISO/IEC 19794-4 profiles use it; recognised by its markers: SOI ``FFA0`` at
  the start, EOI ``FFA1`` at the end, a frame header ``FFA2`` before the first block) or PNG;
- signature: PNG or TIFF, decoding.

Each check reads through a :class:`DecryptingReader`: the plaintext never reaches the disk.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from hub_bundesdruckerei.settings import PhotoRules

WSQ_SOI, WSQ_EOI, WSQ_SOF, WSQ_SOB = b"\xff\xa0", b"\xff\xa1", b"\xff\xa2", b"\xff\xa3"
WSQ_TABLES = {
    b"\xff\xa4",
    b"\xff\xa5",
    b"\xff\xa6",
    b"\xff\xa7",
    b"\xff\xa8",
}  # DTT DQT DHT DRT COM


@dataclass(frozen=True)
class Verdict:
    media_type: str
    detail: str


class NotAcceptable(ValueError):
    """The attachment is not what its purpose requires; the message names the rule."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _decode(stream: BinaryIO, formats: tuple[str, ...], max_pixels: int) -> Image.Image:
    stream.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream, formats=list(formats))
            if image.width * image.height > max_pixels:
                raise NotAcceptable("size", f"{image.width}×{image.height} pixels is too large")
            image.load()
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            raise NotAcceptable("format", f"is not a {' or '.join(formats)} image") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise NotAcceptable("format", f"does not decode: {type(exc).__name__}") from exc
    return image


def photo(stream: BinaryIO, rules: PhotoRules) -> Verdict:
    image = _decode(stream, ("JPEG", "JPEG2000"), rules.max_pixels)
    width, height = image.size
    if width >= height:
        raise NotAcceptable("portrait", f"is {width}×{height}: a passport photo is portrait")
    if width < rules.min_width or height < rules.min_height:
        raise NotAcceptable(
            "resolution",
            f"is {width}×{height}: at least {rules.min_width}×{rules.min_height} pixels "
            "(35 × 45 mm at 300 dpi)",
        )
    ratio = width / height
    if abs(ratio - rules.aspect) > rules.aspect * rules.aspect_tolerance:
        raise NotAcceptable(
            "aspect_ratio",
            f"has the aspect ratio {ratio:.3f}: a passport photo is 35:45 "
            f"({rules.aspect:.3f} ± {rules.aspect_tolerance:.0%})",
        )
    kind = "image/jpeg" if image.format == "JPEG" else "image/jp2"
    return Verdict(kind, f"{image.format} {width}×{height}")


def _is_wsq(stream: BinaryIO, length: int) -> bool:
    stream.seek(0)
    head = stream.read(4096)
    if length < 8 or head[:2] != WSQ_SOI:
        return False
    stream.seek(length - 2)
    if stream.read(2) != WSQ_EOI:
        return False
    # Walk the marker segments after SOI: tables and comments, then the frame header.
    position = 2
    while position + 4 <= len(head):
        marker = head[position : position + 2]
        if marker == WSQ_SOF:
            return True
        if marker not in WSQ_TABLES:
            return False
        position += 2 + int.from_bytes(head[position + 2 : position + 4], "big")
    return False


def fingerprint(stream: BinaryIO, length: int, max_pixels: int) -> Verdict:
    if _is_wsq(stream, length):
        return Verdict("image/x-wsq", "WSQ")
    stream.seek(0)
    if stream.read(8) == b"\x89PNG\r\n\x1a\n":
        image = _decode(stream, ("PNG",), max_pixels)
        return Verdict("image/png", f"PNG {image.width}×{image.height}")
    raise NotAcceptable("format", "is neither WSQ nor PNG")


def signature(stream: BinaryIO, max_pixels: int) -> Verdict:
    image = _decode(stream, ("PNG", "TIFF"), max_pixels)
    kind = "image/png" if image.format == "PNG" else "image/tiff"
    return Verdict(kind, f"{image.format} {image.width}×{image.height}")


__all__ = ["NotAcceptable", "Verdict", "fingerprint", "photo", "signature"]
