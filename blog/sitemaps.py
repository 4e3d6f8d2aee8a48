from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from blog.models import Post


class PostSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Post.objects.published().only("pk", "updated_date").order_by("pk")

    def lastmod(self, item: Post):
        return item.updated_date


class HomeSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self):
        return ["post_list"]

    def location(self, item: str) -> str:
        return reverse(item)


SITEMAPS = {"home": HomeSitemap, "posts": PostSitemap}
