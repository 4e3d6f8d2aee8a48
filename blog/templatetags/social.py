"""{% social_meta %}: the canonical link, OpenGraph and Twitter card tags of a page, so a link
shared anywhere shows a preview. A post's page describes the post (an article, with its
featured image); every other page describes itself as a page of the site. Addresses are
absolute, on SITE_URL (ops.mail.site_url), whatever host the request used."""

from urllib.parse import urlencode

from django import template

from blog import images
from ops.mail import site_url

register = template.Library()

SITE_NAME = "kubeblog"
SITE_DESCRIPTION = "kubeblog: a blog that runs as many replicas as it needs."


def absolute(url: str) -> str:
    return url if url.startswith(("https://", "http://")) else site_url() + url


@register.inclusion_tag("blog/_social_meta.html", takes_context=True)
def social_meta(context):
    request = context.get("request")
    post = context.get("post")
    tags = {"og:site_name": SITE_NAME, "twitter:card": "summary"}
    match = getattr(request, "resolver_match", None)
    on_its_page = match is not None and match.url_name == "post_detail"
    if post is not None and on_its_page and post.is_published:
        path = post.get_absolute_url()
        tags.update(
            {
                "og:type": "article",
                "og:title": post.title,
                "og:description": post.summary,
                "article:published_time": post.published_date.isoformat(),
                "article:modified_time": post.updated_date.isoformat(),
                "article:author": post.author.get_username(),
            }
        )
        tag_names = [name for _, name in post.tag_list]
        featured = post.featured
        if featured is not None:
            tags.update(
                {
                    "og:image": absolute(
                        images.url(images.original_name(featured.folder, featured.ext))
                    ),
                    "og:image:alt": featured.alt,
                    "og:image:width": str(featured.width),
                    "og:image:height": str(featured.height),
                    "twitter:card": "summary_large_image",
                }
            )
    else:
        path = request.path if request is not None else "/"
        page = request.GET.get("page") if request is not None else None
        if page and page.isdigit() and page != "1":
            path += "?" + urlencode({"page": page})
        tags.update(
            {
                "og:type": "website",
                "og:title": context.get("page_title") or SITE_NAME,
                "og:description": SITE_DESCRIPTION,
            }
        )
    url = absolute(path)
    tags["og:url"] = url
    tags["twitter:title"] = tags["og:title"]
    tags["twitter:description"] = tags["og:description"]
    if "og:image" in tags:
        tags["twitter:image"] = tags["og:image"]
        tags["twitter:image:alt"] = tags["og:image:alt"]
    properties = [(k, v) for k, v in tags.items() if k.startswith(("og:", "article:"))]
    if post is not None and on_its_page and post.is_published:
        properties += [("article:tag", name) for name in tag_names]
    return {
        "canonical": url,
        "properties": properties,
        "names": [(k, v) for k, v in tags.items() if k.startswith("twitter:")],
    }
