from django.contrib.syndication.views import Feed
from django.urls import reverse_lazy
from django.utils.feedgenerator import Atom1Feed

from blog.models import Post

FEED_SIZE = 20


class LatestPostsFeed(Feed):
    """Atom feed of the newest published posts, with their full (sanitised) HTML."""

    feed_type = Atom1Feed
    title = "kubeblog"
    subtitle = "The newest posts."
    link = reverse_lazy("post_list")

    def items(self):
        return Post.objects.published().select_related("author")[:FEED_SIZE]

    def item_title(self, item: Post) -> str:
        return item.title

    def item_description(self, item: Post) -> str:
        return item.body_html

    def item_author_name(self, item: Post) -> str:
        return item.author.get_username()

    def item_pubdate(self, item: Post):
        return item.published_date

    def item_updateddate(self, item: Post):
        return item.updated_date
