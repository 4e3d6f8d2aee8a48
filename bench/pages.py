"""The 10 KB HTML page both references serve (nginx from disk, bare Django from memory)."""

REFERENCE_SIZE = 10 * 1024


def reference_page() -> bytes:
    """A 10 KB HTML document, the size of a typical kubeblog page."""
    head = (
        b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        b"<title>reference</title></head><body>\n"
    )
    tail = b"</body></html>\n"
    line = b"<p>kubeblog reference page: the same bytes from nginx and from Django.</p>\n"
    body = bytearray(head)
    while len(body) + len(line) + len(tail) <= REFERENCE_SIZE:
        body += line
    body += b" " * (REFERENCE_SIZE - len(body) - len(tail)) + tail
    assert len(body) == REFERENCE_SIZE
    return bytes(body)
