"""Image files for the upload tests, good and bad, made here rather than kept as binaries."""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

GPS_IFD = 0x8825
LATITUDE = (52.0, 22.0, 12.34)  # a place the author did not mean to publish


def picture(width: int = 1200, height: int = 800, mode: str = "RGB") -> Image.Image:
    """A picture with some detail in it (a gradient), so encoders have work to do."""
    image = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image))


def encoded(kind: str, width: int = 1200, height: int = 800, **options) -> bytes:
    out = io.BytesIO()
    image = picture(width, height)
    if kind == "GIF":
        image = image.convert("P")
    image.save(out, kind, **options)
    return out.getvalue()


def noisy(kind: str, width: int, height: int) -> bytes:
    """An image that hardly compresses: its file is about as large as its pixels."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 100).convert("RGB").save(out, kind)
    return out.getvalue()


def jpeg_with_gps(width: int = 1200, height: int = 800) -> bytes:
    """A photo as a phone makes it: EXIF with a GPS position, a camera and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif.get_ifd(GPS_IFD).update({1: "N", 2: LATITUDE, 3: "E", 4: LATITUDE})
    return encoded("JPEG", width, height, exif=exif.tobytes(), comment=b"taken at home")


def animated_gif(frames: int = 3, width: int = 64, height: int = 48) -> bytes:
    images = [picture(width, height).rotate(30 * i).convert("P") for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims `width` x `height` pixels: a decompression bomb's
    shape (the claim is checked before any pixel is decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


def bad_files() -> dict[str, tuple[str, bytes, str]]:
    """name → (file name, bytes, content type the browser claims): each must be refused."""
    jpeg = encoded("JPEG", 200, 100)
    return {
        "svg": ("drawing.svg", SVG, "image/svg+xml"),
        "svg named png": ("drawing.png", SVG, "image/png"),
        "html named jpg": ("photo.jpg", HTML, "image/jpeg"),
        "jpeg then html": ("photo.jpg", jpeg + HTML, "image/jpeg"),
        "gif with script in a comment": (
            "anim.gif",
            encoded("GIF", 20, 20, comment=b"<script>alert(1)</script>"),
            "image/gif",
        ),
        "png then zip": (
            "pic.png",
            encoded("PNG", 50, 50) + b"PK\x03\x04" + b"\x00" * 40,
            "image/png",
        ),
        "truncated jpeg": ("photo.jpg", jpeg[: len(jpeg) // 2], "image/jpeg"),
        "truncated png": ("pic.png", encoded("PNG", 300, 300)[:-400], "image/png"),
        "bmp": ("pic.bmp", encoded("BMP", 30, 30), "image/bmp"),
        "tiff": ("pic.tiff", encoded("TIFF", 30, 30), "image/tiff"),
        "pixel bomb": ("bomb.png", png_claiming(30_000, 30_000), "image/png"),
        "empty": ("empty.jpg", b"", "image/jpeg"),
        "text": ("notes.jpg", b"just some words, not an image", "image/jpeg"),
    }


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)
