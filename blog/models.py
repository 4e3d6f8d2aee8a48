"""Posts and comments; each rule about them ("published", "who may change it") is defined
once, on the querysets, with the one-post predicates beside it."""

from django.conf import settings
from django.db import models
from django.db.models import (
    Count,
    Expression,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify

from blog.images import enhance_body_images
from blog.markdown import RENDERING, plain_summary, render_markdown


def _one_per_creation_token(owner: str, name: str) -> models.UniqueConstraint:
    """At most one row per (owner, creation token); rows without a token are not limited."""
    return models.UniqueConstraint(
        fields=[owner, "creation_token"], condition=Q(creation_token__isnull=False), name=name
    )


class AppNow(Expression):
    """The application's clock (`timezone.now()`, as the model's predicates read it) at the
    moment the query runs. A queryset holding it, unlike one holding a timestamp, stays
    right however long it is kept, so a view can build its queryset once per process."""

    output_field = models.DateTimeField()

    def as_sql(self, compiler, connection):
        return "%s", [connection.ops.adapt_datetimefield_value(timezone.now())]


class PostQuerySet(models.QuerySet):
    """The rules about posts, each defined once; the model's predicates mirror them."""

    def published(self):
        """Posts readers can see: published at a moment that has come."""
        return self.filter(published_date__lte=AppNow())

    def unpublished(self):
        """Drafts, and posts scheduled for a moment still to come."""
        return self.exclude(published_date__lte=AppNow())

    def for_lists(self):
        """Only what a post in a list shows (blog.fragments.post_summary), with its author
        and its featured image."""
        return (
            self.select_related("author")
            .only("title", "summary", "created_date", "published_date", "author__username")
            .with_featured_image()
            .with_tags()
        )

    def with_tags(self):
        """Each post's tags in the same query, as one string (`Post.tag_list` reads it): a
        correlated subquery per post, so a page of a list stays one query."""
        joined = (
            Tag.objects.filter(posts=OuterRef("pk"))
            .order_by()
            .values("posts")
            .annotate(joined=JoinedText(Concat("slug", Value(_FIELD), "name"), Value(_ITEM)))
            .values("joined")
        )
        return self.annotate(tags_joined=Subquery(joined, output_field=models.TextField()))

    def with_featured_image(self):
        """Each post's featured image, if it has one, in the same query (`Post.featured`):
        a post has at most one, so the join adds no row."""
        return self.annotate(
            _featured=FilteredRelation("images", condition=Q(images__role=PostImage.FEATURED))
        ).annotate(**{f"featured_{f}": F(f"_featured__{f}") for f in FEATURED_FIELDS})

    def editable_by(self, user):
        """Posts the user may edit, publish, delete and moderate: their own, or all for staff."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(author=user)

    def drafts_of(self, user):
        """The user's own posts that readers cannot see yet (drafts and scheduled posts)."""
        return self.filter(author=user).unpublished()

    def visible_to(self, user):
        """Published posts, plus every post the user may edit."""
        return self.published() | self.editable_by(user)

    def with_comment_count(self):
        """Annotate `comment_count`, the approved comments of each post.

        A subquery per post rather than a join and GROUP BY: with a LIMIT, PostgreSQL counts
        the comments of the ten posts on the page only, instead of grouping every post with
        every comment before it can sort (9 ms with 1,000 posts and 5,000 comments, growing
        with both; 1 ms this way).
        """
        approved = (
            Comment.objects.filter(post=OuterRef("pk"), approved=True)
            .order_by()
            .values("post")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(comment_count=Coalesce(Subquery(approved), 0))


SLUG_MAX = 60
RESERVED_SLUGS = {"edit", "publish", "unpublish", "remove", "images", "comment"}


class Tag(models.Model):
    """A topic posts share: /tag/<slug>/ lists them. Names are short words, no commas."""

    name = models.CharField(max_length=50)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tag", kwargs={"slug": self.slug})


class JoinedText(models.Aggregate):
    """Strings joined by a separator: GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL."""

    function = "GROUP_CONCAT"
    output_field = models.TextField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="STRING_AGG", **extra)


_FIELD, _ITEM = "\x1f", "\x1e"  # separators no tag name can hold (blog.forms.TagsField)


def _by_name(tag: tuple[str, str]) -> str:
    return tag[1].casefold()


class Post(models.Model):
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(editable=False)
    summary = models.CharField(max_length=300, editable=False, blank=True)
    # The blog.markdown.RENDERING that made body_html and summary; NULL: one from before.
    rendering = models.BigIntegerField(null=True, editable=False)
    created_date = models.DateTimeField(default=timezone.now, editable=False)
    updated_date = models.DateTimeField(auto_now=True)
    published_date = models.DateTimeField(blank=True, null=True, db_index=True)
    # The one-time token of the form that created the post (blog.forms.CreationTokenField);
    # NULL for posts made before forms carried one, or without a form.
    creation_token = models.UUIDField(null=True, blank=True, editable=False)
    tags = models.ManyToManyField(Tag, related_name="posts", blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_date", "-created_date"]
        indexes = [models.Index(fields=["author", "published_date"], name="post_author_pub_idx")]
        # One post per form an author sends, however often it is sent (blog.services).
        constraints = [_one_per_creation_token("author", "post_creation_token_uniq")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        # Render once, serve many: pages show body_html and never render Markdown.
        self.render()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("post_detail", kwargs={"pk": self.pk, "slug": self.slug})

    @property
    def slug(self) -> str:
        """The title in the post's address: /post/<pk>/<slug>/ (a changed title changes it;
        the old address answers 301). Never one of the words after /post/<pk>/ in other
        addresses (edit, publish, ...)."""
        slug = slugify(self.title, allow_unicode=True)[:SLUG_MAX].strip("-_") or "post"
        return f"{slug}-post" if slug in RESERVED_SLUGS else slug

    def render(self, body_images=None) -> None:
        """Make body_html and summary from the Markdown body. The post's own images (all of
        them when not given) get their size and renditions (blog.images)."""
        html = render_markdown(self.body)
        self.summary = plain_summary(html)
        if body_images is None:
            body_images = self.images.filter(role=PostImage.BODY) if self.pk else ()
        self.body_html = enhance_body_images(html, body_images)
        self.rendering = RENDERING

    # The same rules for one post in hand, so that templates need no query; the tests hold
    # each of these to its queryset above.
    @property
    def is_published(self) -> bool:
        """Readers can see it (`PostQuerySet.published`)."""
        return self.published_date is not None and self.published_date <= timezone.now()

    @property
    def is_scheduled(self) -> bool:
        """Published at a moment still to come: only its author and staff see it until then."""
        return self.published_date is not None and not self.is_published

    def is_editable_by(self, user) -> bool:
        """The user may edit, publish, delete and moderate it (`PostQuerySet.editable_by`)."""
        return user.is_authenticated and (user.is_staff or self.author_id == user.pk)

    @cached_property
    def tag_list(self) -> list[tuple[str, str]]:
        """(slug, name) of each tag, by name: from `with_tags` when the query had it."""
        if hasattr(self, "tags_joined"):
            items = [item.split(_FIELD, 1) for item in (self.tags_joined or "").split(_ITEM)]
            return sorted(((s, n) for s, n in (i for i in items if len(i) == 2)), key=_by_name)
        return list(self.tags.order_by("name").values_list("slug", "name"))

    @property
    def featured(self) -> "PostImage | None":
        """The featured image: from `with_featured_image` when the query had it, else read."""
        if hasattr(self, "featured_folder"):
            if self.featured_folder is None:
                return None
            return PostImage(
                post_id=self.pk,
                role=PostImage.FEATURED,
                **{f: getattr(self, f"featured_{f}") for f in FEATURED_FIELDS},
            )
        return self.images.filter(role=PostImage.FEATURED).first()


class CommentQuerySet(models.QuerySet):
    def approved(self):
        return self.filter(approved=True)

    def awaiting_moderation(self):
        return self.filter(approved=False)

    def editable_by(self, user):
        """Comments the user may approve or remove: those under posts the user may edit."""
        return self.filter(post__in=Post.objects.editable_by(user))


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author_name = models.CharField("name", max_length=80)
    text = models.TextField(max_length=5000)
    text_html = models.TextField(editable=False)
    rendering = models.BigIntegerField(null=True, editable=False)  # as Post's
    created_date = models.DateTimeField(default=timezone.now, editable=False)
    approved = models.BooleanField(default=False, db_index=True)
    # When the post's author was told this comment awaits approval (blog.tasks).
    author_told_at = models.DateTimeField(null=True, blank=True, editable=False)
    # As Post.creation_token.
    creation_token = models.UUIDField(null=True, blank=True, editable=False)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_date"]
        indexes = [
            models.Index(fields=["post", "approved", "created_date"], name="comment_post_idx")
        ]
        # One comment per form sent about a post, however often it is sent (blog.services).
        constraints = [_one_per_creation_token("post", "comment_creation_token_uniq")]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.text[:40]}"

    def save(self, *args, **kwargs):
        self.render()
        super().save(*args, **kwargs)

    def render(self) -> None:
        self.text_html = render_markdown(self.text)
        self.rendering = RENDERING


class PostImageQuerySet(models.QuerySet):
    def editable_by(self, user):
        """Images the user may remove: those of posts the user may edit."""
        return self.filter(post__in=Post.objects.editable_by(user))


class PostImage(models.Model):
    """An image uploaded for a post, kept in object storage (blog.images): the featured
    image (at most one per post), or one shown in the body by its Markdown reference."""

    FEATURED, BODY = "featured", "body"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    role = models.CharField(max_length=8, choices=[(FEATURED, "featured"), (BODY, "in the body")])
    # Where its objects are: <folder>/original.<ext> and <folder>/w<width>.webp.
    folder = models.CharField(max_length=64, unique=True)
    ext = models.CharField(max_length=4)
    width = models.PositiveBigIntegerField()
    height = models.PositiveBigIntegerField()
    alt = models.CharField("alt text", max_length=300)
    # The widths of the WebP renditions made so far (blog.tasks.make_renditions).
    renditions = models.JSONField(default=list, blank=True)
    created_date = models.DateTimeField(default=timezone.now, editable=False)

    objects = PostImageQuerySet.as_manager()

    class Meta:
        ordering = ["created_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["post"], condition=Q(role="featured"), name="postimage_one_featured"
            )
        ]

    def __str__(self) -> str:
        return self.alt


# What a list needs of a featured image (PostQuerySet.with_featured_image).
FEATURED_FIELDS = ("folder", "ext", "width", "height", "alt", "renditions")


class AuthorProfile(models.Model):
    """How an author presents themselves on their page (/author/<username>/)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="author_profile"
    )
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField("short bio", max_length=600, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


def display_name(user) -> str:
    """An author's name as readers see it: their chosen name, else their full or user name."""
    profile = getattr(user, "author_profile", None)
    return (profile and profile.display_name) or user.get_full_name() or user.get_username()
