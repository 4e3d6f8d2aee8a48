from django.contrib.sitemaps import Sitemap
from django.db.models import Exists, OuterRef
from django.urls import reverse

from blog.models import Post, Tag


class PostSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Post.objects.published().only("pk", "title", "updated_date").order_by("pk")

    def lastmod(self, item: Post):
        return item.updated_date


class HomeSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["post_list"]

    def location(self, item: str) -> str:
        return reverse(item)


class TagSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        with_posts = Post.objects.published().filter(tags=OuterRef("pk"))
        return Tag.objects.filter(Exists(with_posts)).only("slug").order_by("slug")


SITEMAPS = {"home": HomeSitemap, "posts": PostSitemap, "tags": TagSitemap}
