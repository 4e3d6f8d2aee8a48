"""Uploaded images: what is accepted, how it is stored, and how it is shown.

An upload is never trusted by its name or its content type, and never stored as sent. It is
decoded by Pillow, which tries only the four formats a browser shows everywhere (JPEG, PNG,
WebP, GIF); its pixel count is checked from its header before anything is decoded, so a
decompression bomb costs nothing; it is then decoded whole (a truncated file fails there);
and what is stored is a new encoding of its pixels, made here, with no metadata: EXIF (GPS
position, camera serial), XMP and comments are not carried over. A file that also carries
markup a browser would run (HTML, SVG, script) or an archive, a PDF or PHP after the image's
end (a polyglot) is refused even though its pixels would be safe, so that no such file is
ever even in memory longer than this check.

Objects are named by the server: images/<random hex>/original.<ext>, and beside it the
renditions the worker makes, w<width>.webp (blog.tasks.make_renditions). A name is never
reused, so every object is served with a year's immutable caching.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import warnings
from dataclasses import dataclass
from html import escape, unescape

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow name → (file extension, content type)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
MAX_SIDE = 2400  # the stored original; the widest rendition is 1600
RENDITION_WIDTHS = (480, 960, 1600)
SIZES = "(max-width: 48rem) 100vw, 48rem"  # the content column (static/css/site.css)
PREFIX = "images"

_MARKUP = re.compile(
    rb"<(?:script|html|body|svg|iframe|object|embed|meta|!doctype|\?php)[\s>/]", re.IGNORECASE
)
_FOREIGN_AFTER_END = (b"PK\x03\x04", b"%PDF-", b"<?php", b"Rar!", b"7z\xbc\xaf")


class ImageRefused(ValueError):
    """The upload is not an image kubeblog accepts; the message says why, for the author."""


@dataclass(frozen=True)
class PreparedImage:
    """An accepted image, re-encoded and ready to store."""

    data: bytes
    ext: str
    width: int
    height: int
    animated: bool


def prepare(upload) -> PreparedImage:
    """Check an uploaded file and return its clean re-encoding, or raise ImageRefused."""
    if getattr(upload, "too_large", False) or upload.size > settings.IMAGE_MAX_BYTES:
        raise ImageRefused(
            f"This file is {_megabytes(upload.size)}; images can be at most "
            f"{_megabytes(settings.IMAGE_MAX_BYTES)}."
        )
    upload.seek(0)
    data = upload.read()
    if not data:
        raise ImageRefused("This file is empty.")
    if _MARKUP.search(data):
        raise ImageRefused("This file contains web page code as well as (or instead of) an image.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
            raise ImageRefused(
                "This file is not a JPEG, PNG, WebP or GIF image (or it is damaged)."
            ) from exc
        frames = getattr(image, "n_frames", 1)
        pixels = image.width * image.height * frames
        if pixels > settings.IMAGE_MAX_PIXELS:
            raise ImageRefused(
                f"This image is {image.width} × {image.height} pixels"  # noqa: RUF001
                f"{f' × {frames} frames' if frames > 1 else ''}; images can have at most "  # noqa: RUF001
                f"{settings.IMAGE_MAX_PIXELS / 1e6:g} million pixels."
            )
        end = image_end(data, image.format)
        if end is None:
            raise ImageRefused("This image is damaged or incomplete.")
        if any(signature in data[end:] for signature in _FOREIGN_AFTER_END):
            raise ImageRefused("This file carries another file after the image.")
        try:
            for frame in range(frames):
                image.seek(frame)
                image.load()
            image.seek(0)
            return _reencode(image, frames > 1)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise ImageRefused("This image is damaged or incomplete.") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRefused("This image has too many pixels.") from exc


def _reencode(image: Image.Image, animated: bool) -> PreparedImage:
    """The image's pixels in a new file of its own format, without any metadata."""
    kind = image.format
    ext = FORMATS[kind][0]
    keep = {k: image.info[k] for k in ("transparency", "duration", "loop") if k in image.info}
    icc = image.info.get("icc_profile")
    if not animated:
        image = ImageOps.exif_transpose(image)  # a photo taken sideways shows upright
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    image.info = dict(keep)  # nothing else read from the upload is written back
    options: dict = {"icc_profile": icc} if icc and kind != "GIF" else {}
    out = io.BytesIO()
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True, **options)
    elif kind == "PNG":
        image.save(out, "PNG", **options)
    elif kind == "WEBP":
        image.save(out, "WEBP", quality=85, save_all=animated, **keep, **options)
    else:
        image.save(out, "GIF", save_all=animated, **keep)
    return PreparedImage(out.getvalue(), ext, image.width, image.height, animated)


def rendition(original: bytes, width: int) -> bytes:
    """A WebP copy of a stored original, `width` pixels wide."""
    with Image.open(io.BytesIO(original), formats=list(FORMATS)) as image:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        height = max(1, round(image.height * width / image.width))
        small = image.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.save(out, "WEBP", quality=80, method=4)
        return out.getvalue()


def new_folder() -> str:
    """A fresh, unguessable folder for one image and its renditions."""
    return f"{PREFIX}/{uuid.uuid4().hex}"


def original_name(folder: str, ext: str) -> str:
    return f"{folder}/original.{ext}"


def rendition_name(folder: str, width: int) -> str:
    return f"{folder}/w{width}.webp"


def url(name: str) -> str:
    return settings.MEDIA_URL + name


def img_tag(image, *, lazy: bool = True, css_class: str = "") -> str:
    """An <img> for a stored image: its size, its renditions, lazy loading below the fold."""
    attrs = {
        "src": url(original_name(image.folder, image.ext)),
        "alt": image.alt,
        "width": image.width,
        "height": image.height,
    }
    widths = [w for w in image.renditions if w < image.width]
    if widths:
        srcset = [f"{url(rendition_name(image.folder, w))} {w}w" for w in sorted(widths)]
        srcset.append(f"{attrs['src']} {image.width}w")
        attrs["srcset"] = ", ".join(srcset)
        attrs["sizes"] = SIZES
    if lazy:
        attrs["loading"] = "lazy"
    attrs["decoding"] = "async"
    if css_class:
        attrs["class"] = css_class
    return "<img " + " ".join(f'{k}="{escape(str(v))}"' for k, v in attrs.items()) + ">"


_IMG = re.compile(r'<img src="([^"]*)" alt="([^"]*)"( title="[^"]*")?\s*/?>')


def enhance_body_images(html: str, images) -> str:
    """Give the body's references to the post's own images their size and renditions, and
    every other image lazy loading; `html` is the sanitised output of blog.markdown."""
    by_src = {url(original_name(i.folder, i.ext)): i for i in images}

    def replace(match: re.Match) -> str:
        src, alt, title = match.group(1), match.group(2), match.group(3) or ""
        image = by_src.get(unescape(src))
        if image is None:
            return f'<img src="{src}" alt="{alt}"{title} loading="lazy" decoding="async">'
        return img_tag(_WithAlt(image, unescape(alt)))[:-1] + f"{title}>"

    return _IMG.sub(replace, html)


class _WithAlt:
    """An image as the body refers to it: with the alt text the author wrote there."""

    def __init__(self, image, alt: str) -> None:
        self._image, self.alt = image, alt

    def __getattr__(self, name):
        return getattr(self._image, name)


def markdown_reference(image) -> str:
    """What an author pastes into a body to show the image."""
    alt = re.sub(r"([\\\[\]])", r"\\\1", image.alt)
    return f"![{alt}]({url(original_name(image.folder, image.ext))})"


def image_end(data: bytes, kind: str) -> int | None:
    """Where the image in `data` ends, by its own structure; None if it never does."""
    try:
        return _ENDS[kind](data)
    except (IndexError, struct.error):
        return None


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    pos, size = 2, len(data)
    while pos + 2 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if marker == 0xFF:
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not a restart
            while pos + 1 < size:
                if data[pos] == 0xFF and data[pos + 1] not in (0x00, *range(0xD0, 0xD8)):
                    break
                pos += 1
    return None


def _gif_end(data: bytes) -> int | None:
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            return pos + 1
        if block == 0x21:
            pos += 2
        elif block == 0x2C:
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
        else:
            return None
        while data[pos]:  # data sub-blocks, up to the empty one
            pos += 1 + data[pos]
        pos += 1
    return None


def _webp_end(data: bytes) -> int | None:
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size + (size & 1)
    return end if end <= len(data) else None


_ENDS = {"PNG": _png_end, "JPEG": _jpeg_end, "GIF": _gif_end, "WEBP": _webp_end}


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
