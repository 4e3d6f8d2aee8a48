"""Tag pages: /tag/<slug>/ lists the tag's published posts, /tag/<slug>/feed/ is their feed."""

from django.shortcuts import get_object_or_404, render

from blog.feeds import LatestPostsFeed
from blog.models import Post, Tag
from blog.pagination import page_of_posts

PAGE_SIZE = 10


def tag_page(request, slug: str):
    tag = get_object_or_404(Tag, slug=slug)
    posts = Post.objects.published().filter(tags=tag).for_lists()
    page = page_of_posts(request, posts, PAGE_SIZE)
    return render(
        request,
        "blog/tag.html",
        {"tag": tag, "page_obj": page, "post_list": page.object_list, "page_title": tag.name},
    )


class TagFeed(LatestPostsFeed):
    """The newest published posts with a tag."""

    def get_object(self, request, slug: str):
        return get_object_or_404(Tag, slug=slug)

    def title(self, obj) -> str:
        return f"{obj.name} on kubeblog"

    def subtitle(self, obj) -> str:
        return f"The newest posts tagged “{obj.name}”."

    def link(self, obj) -> str:
        return obj.get_absolute_url()

    def posts(self, obj):
        return super().posts(obj).filter(tags=obj)
