from django.contrib.sitemaps.views import sitemap
from django.urls import path, register_converter
from django.views.decorators.http import require_safe

from blog import authors, tags, views
from blog.converters import IdConverter
from blog.feeds import LatestPostsFeed
from blog.sitemaps import SITEMAPS
from ops.pagecache import public_page

register_converter(IdConverter, "id")

# The Django Girls tutorial's URL scheme, kept so that people who know it find their way.
urlpatterns = [
    path("", public_page(views.PostListView.as_view()), name="post_list"),
    path("post/new/", views.PostCreateView.as_view(), name="post_new"),
    path("post/<id:pk>/edit/", views.PostUpdateView.as_view(), name="post_edit"),
    path("drafts/", views.DraftListView.as_view(), name="post_draft_list"),
    path("post/<id:pk>/publish/", views.PostPublishView.as_view(), name="post_publish"),
    path("post/<id:pk>/unpublish/", views.PostUnpublishView.as_view(), name="post_unpublish"),
    path("post/<id:pk>/remove/", views.PostDeleteView.as_view(), name="post_remove"),
    path("post/<id:pk>/images/", views.BodyImageAddView.as_view(), name="post_image_add"),
    path("image/<id:pk>/remove/", views.BodyImageRemoveView.as_view(), name="post_image_remove"),
    path("post/<id:pk>/comment/", views.comment_create, name="add_comment_to_post"),
    # A post's address is /post/<pk>/<slug>/; the tutorial's /post/<pk>/ and a slug from an
    # older title answer 301 to it. After every /post/<pk>/<word>/ above, which it would match.
    path("post/<id:pk>/", public_page(views.PostDetailView.as_view()), name="post_detail_short"),
    path(
        "post/<id:pk>/<str:slug>/",
        public_page(views.PostDetailView.as_view()),
        name="post_detail",
    ),
    path("comment/<id:pk>/approve/", views.CommentApproveView.as_view(), name="comment_approve"),
    path("comment/<id:pk>/remove/", views.CommentRemoveView.as_view(), name="comment_remove"),
    path("moderation/", views.ModerationQueueView.as_view(), name="moderation_queue"),
    path("author/<str:username>/", public_page(require_safe(authors.author_page)), name="author"),
    path(
        "author/<str:username>/feed/",
        public_page(require_safe(authors.AuthorFeed())),
        name="author_feed",
    ),
    path("account/profile/", authors.edit_profile, name="edit_profile"),
    path("tag/<slug:slug>/", public_page(require_safe(tags.tag_page)), name="tag"),
    path("tag/<slug:slug>/feed/", public_page(require_safe(tags.TagFeed())), name="tag_feed"),
    path("search/", public_page(require_safe(views.search)), name="search"),
    path("feed/", public_page(require_safe(LatestPostsFeed())), name="feed"),
    path("sitemap.xml", public_page(require_safe(sitemap)), {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", public_page(require_safe(views.robots_txt)), name="robots_txt"),
]
