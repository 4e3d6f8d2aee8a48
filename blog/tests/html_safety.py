"""Parse a page the way a browser does and list anything in it that could run script."""

from pathlib import Path

from bs4 import BeautifulSoup

from blog.markdown import ALLOWED_TAGS

URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "background",
    "poster",
    "data",
    "srcdoc",
    "content",
}
SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#", "?")


def load_payloads() -> list[str]:
    path = Path(__file__).parent / "data" / "xss_payloads.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.replace("\\n", "\n") for line in lines if line and not line.startswith("#")]


def _url_is_safe(value: str) -> bool:
    cleaned = "".join(ch for ch in value if ch.isprintable() and not ch.isspace()).lower()
    return cleaned == "" or cleaned.startswith(SAFE_SCHEMES) or ":" not in cleaned.split("/")[0]


def live_markup_problems(html: str, *, fragment: bool = False) -> list[str]:
    """Everything in `html` that a browser would treat as script or as active content."""
    soup = BeautifulSoup(html, "html5lib")
    problems = []
    for tag in soup.find_all(True):
        if tag.name == "script":
            problems.append(f"<script> element: {tag}")
        for attribute, value in tag.attrs.items():
            values = value if isinstance(value, list) else [value]
            if attribute.lower().startswith("on"):
                problems.append(f"event handler {attribute} on <{tag.name}>")
            if attribute.lower() in URL_ATTRIBUTES and tag.name != "meta":
                problems.extend(
                    f"unsafe URL {attribute}={v!r} on <{tag.name}>"
                    for v in values
                    if not _url_is_safe(v)
                )
            if attribute.lower() == "style":
                problems.append(f"inline style on <{tag.name}>")
    if fragment:
        allowed = ALLOWED_TAGS | {"html", "head", "body"}
        problems.extend(
            f"<{tag.name}> is not allowed in user content"
            for tag in soup.find_all(True)
            if tag.name not in allowed
        )
    return problems


def user_content_regions(html: str) -> list[str]:
    """The parts of a page that come from user input (post bodies, comments)."""
    soup = BeautifulSoup(html, "html5lib")
    return [region.decode_contents() for region in soup.select(".post-body, .comment-body")]
