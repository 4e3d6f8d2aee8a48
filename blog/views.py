"""Thin views: they check who may do what, then hand writes to blog.services."""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import InvalidPage
from django.db.models import Q
from django.http import Http404, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods
from django.views.generic import CreateView, DetailView, ListView, UpdateView, View
from django.views.generic.detail import SingleObjectMixin

from blog import images, media, services
from blog.forms import (
    BodyImageForm,
    CommentForm,
    NewPostForm,
    PostForm,
    QueuedPasswordResetForm,
    SearchForm,
)
from blog.markdown import render_markdown
from blog.models import Comment, Post, PostImage, Tag
from blog.pagination import OneQueryPaginator, with_total
from blog.search import search_posts
from ops import ratelimit
from ops.client_ip import client_ip

PAGE_SIZE = 10

DRAFT_SAVED = "Draft saved. Publish it when it is ready."
DRAFT_ALREADY_SAVED = "Already saved: this form had been sent before, so nothing was saved twice."
IMAGE_NOT_STORED = (
    "The image could not be stored just now, so nothing was saved. "
    "Please choose the file again and resend in a minute."
)
COMMENT_RECEIVED = "Thank you. Your comment will appear once the author approves it."
COMMENT_ALREADY_RECEIVED = (
    "Already received: this comment had been sent before, so it was not saved twice."
)


class EditableMixin(LoginRequiredMixin):
    """The one gate for changes: only objects the user may change exist for the view.

    Any other object is a 404, whether it exists or not; visitors are sent to log in.
    `Model.objects.editable_by(user)` (blog.models) says which objects those are.
    """

    def get_queryset(self):
        return self.model.objects.editable_by(self.request.user)


class ActionView(EditableMixin, SingleObjectMixin, View):
    """A POST-only change to one object the user may change; subclasses say what in `act`."""

    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        # The method is checked first, so that a GET is a 405 for everyone, visitors included.
        if request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def handle_no_permission(self):
        # After logging in, a visitor lands on the page the button was on, not on this
        # POST-only URL (which would answer a GET with 405).
        messages.info(self.request, "Please log in first.")
        return redirect_to_login(self.page_of_the_button())

    def page_of_the_button(self) -> str:
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        return self.act(self.get_object())

    def act(self, obj):
        raise NotImplementedError

    def next_page(self) -> str:
        """The page to return to after the change, when the button's page said so."""
        return ""


class ConfirmedActionView(ActionView):
    """A change that cannot be undone: the button is a GET to this URL, which shows a page
    asking to confirm (and changes nothing); that page's form POSTs here to make the change.

    Who may see the question is who may make the change (a 404 for anyone else); visitors
    are sent to log in and back to the question.
    """

    http_method_names = ["get", "head", "post"]
    template_name = "blog/confirm.html"
    button = "Delete"
    kind = ""  # "post", "comment" or "image": what the page shows of the object
    consequence = "This cannot be undone."

    def handle_no_permission(self):
        if self.request.method in ("GET", "HEAD"):
            messages.info(self.request, "Please log in first.")
            return redirect_to_login(self.request.get_full_path())
        return super().handle_no_permission()

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        context = {
            "object": obj,
            "kind": self.kind,
            "question": self.question(obj),
            "consequence": self.consequence,
            "button": self.button,
            "next": self.next_page(),
            "cancel_url": self.cancel_url(obj),
        }
        # Not public_page: private and never stored, like every page that did not choose to
        # be shared (ops.middleware.PrivateByDefaultMiddleware).
        return render(request, self.template_name, context)

    def question(self, obj) -> str:
        raise NotImplementedError

    def cancel_url(self, obj) -> str:
        """Where Cancel leads: the page the button was on."""
        raise NotImplementedError


class PostActionView(ActionView):
    model = Post

    def page_of_the_button(self) -> str:
        return reverse("post_detail_short", kwargs={"pk": self.kwargs["pk"]})


class CommentActionView(ActionView):
    model = Comment

    def page_of_the_button(self) -> str:
        return reverse("moderation_queue")

    def get_queryset(self):
        return super().get_queryset().select_related("post")

    def next_page(self) -> str:
        """The moderation queue if the button was there (the only other page is the post)."""
        data = self.request.POST if self.request.method == "POST" else self.request.GET
        queue = reverse("moderation_queue")
        return queue if data.get("next") == queue else ""

    def back(self, comment):
        """Back to the page the button was on: the moderation queue or the post."""
        return redirect(self.next_page() or comment.post.get_absolute_url())


class ModerationQueueView(LoginRequiredMixin, ListView):
    """Every comment awaiting approval on the posts the user may moderate, oldest first."""

    template_name = "blog/moderation_queue.html"
    paginate_by = 50

    def get_queryset(self):
        return (
            Comment.objects.awaiting_moderation()
            .editable_by(self.request.user)
            .select_related("post")
            .order_by("created_date", "pk")
        )


class PostListView(ListView):
    template_name = "blog/post_list.html"
    paginate_by = PAGE_SIZE
    paginator_class = OneQueryPaginator

    def get_queryset(self):
        return _published_list().all()


@functools.cache
def _published_list():
    """The home page's queryset, built once per process: building it cost as much as
    compiling and running it (it holds no timestamp: blog.models.AppNow)."""
    posts = with_total(Post.objects.published().for_lists()).with_comment_count()
    return posts.order_by("-published_date", "-pk")


class PostDetailView(DetailView):
    """A post at its address, /post/<pk>/<slug>/; any other address of it answers 301."""

    template_name = "blog/post_detail.html"

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        if kwargs.get("slug") != self.object.slug:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(
                self.object.get_absolute_url() + (f"?{query}" if query else "")
            )
        return self.render_to_response(self.get_context_data(object=self.object))

    def get_queryset(self):
        return (
            Post.objects.visible_to(self.request.user)
            .select_related("author")
            .with_featured_image()
            .with_tags()
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post = self.object
        context["minutes"] = max(1, round(len(strip_tags(post.body_html).split()) / WORDS_A_MINUTE))
        if post.is_published:
            context["older"], context["newer"] = _neighbours(post)
        context["comments"] = post.comments.approved()
        if post.is_editable_by(self.request.user):
            context["can_moderate"] = True
            context["pending_comments"] = post.comments.awaiting_moderation()
        return context


WORDS_A_MINUTE = 220  # a reader's pace, for "4 min read"


def _neighbours(post: Post) -> tuple[Post | None, Post | None]:
    """The published posts just before and just after `post`, in the home page's order."""
    published = Post.objects.published().only("title", "published_date")
    at, pk = post.published_date, post.pk
    older = published.filter(Q(published_date__lt=at) | Q(published_date=at, pk__lt=pk))
    newer = published.filter(Q(published_date__gt=at) | Q(published_date=at, pk__gt=pk))
    return (
        older.order_by("-published_date", "-pk").first(),
        newer.order_by("published_date", "pk").first(),
    )


def storage_unavailable(view, form, field: str):
    """The page again, with the author's text kept and the image field saying what
    happened: nothing was saved (blog.services), and the author can simply send it again."""
    form.add_error(field, IMAGE_NOT_STORED)
    response = view.render_to_response(view.get_context_data(form=form), status=503)
    response["Retry-After"] = "30"
    return response


class EditorMixin:
    """The post form's buttons: Save, Publish (now, or at the form's "Publish at") and
    Preview, which shows the body as readers would see it and saves nothing."""

    def form_valid(self, form):
        fields = dict(form.cleaned_data)
        publish_at = fields.pop("publish_at", None)
        action = self.request.POST.get("action", "save")
        if action == "preview":
            return self.preview(form, fields)
        try:
            post, message = self.save(fields)
        except media.StorageUnavailable:
            return storage_unavailable(self, form, "image")
        if action == "publish":
            post = services.post_publish(post=post, at=publish_at)
            message = (
                "Published."
                if post.is_published
                else f"Scheduled for {date_format(localtime(post.published_date), 'j F Y, H:i')}."
            )
        messages.success(self.request, message)
        return redirect(post)

    def preview(self, form, fields):
        context = self.get_context_data(form=form, preview=render_markdown(fields["body"]))
        context["preview_dropped_image"] = fields.get("image") is not None
        return self.render_to_response(context)


class PostCreateView(EditorMixin, LoginRequiredMixin, CreateView):
    model = Post
    form_class = NewPostForm
    template_name = "blog/post_form.html"

    def save(self, fields):
        post, created = services.post_create(author=self.request.user, **fields)
        return post, DRAFT_SAVED if created else DRAFT_ALREADY_SAVED


class PostUpdateView(EditorMixin, EditableMixin, UpdateView):
    model = Post
    form_class = PostForm
    template_name = "blog/post_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("image_form", BodyImageForm())
        context["body_images"] = [
            (image, images.markdown_reference(image))
            for image in self.object.images.filter(role=PostImage.BODY)
        ]
        return context

    def save(self, fields):
        return services.post_update(post=self.object, **fields), "Changes saved."


class BodyImageAddView(PostActionView):
    """An image for the post's body; the edit page then shows its Markdown reference."""

    def act(self, post):
        request = self.request
        form = BodyImageForm(request.POST, request.FILES)
        edit = PostUpdateView(request=request, kwargs=self.kwargs, object=post)
        if not form.is_valid():
            context = edit.get_context_data(form=PostForm(instance=post), image_form=form)
            return edit.render_to_response(context, status=400)
        try:
            image = services.body_image_add(post=post, **form.cleaned_data)
        except media.StorageUnavailable:
            form.add_error("image", IMAGE_NOT_STORED)
            context = edit.get_context_data(form=PostForm(instance=post), image_form=form)
            response = edit.render_to_response(context, status=503)
            response["Retry-After"] = "30"
            return response
        messages.success(
            request,
            "Image added. To show it, paste this line into the body: "
            + images.markdown_reference(image),
        )
        return redirect(reverse("post_edit", kwargs={"pk": post.pk}) + "#body-images")


class BodyImageRemoveView(ConfirmedActionView):
    model = PostImage
    button = "Remove image"
    kind = "image"
    consequence = (
        "This cannot be undone. Where the body still refers to it, readers see its "
        "description instead."
    )

    def page_of_the_button(self) -> str:
        return reverse("post_list")

    def get_queryset(self):
        return super().get_queryset().select_related("post")

    def question(self, image) -> str:
        return f"Remove this image from “{image.post.title}”?"

    def cancel_url(self, image) -> str:
        return reverse("post_edit", kwargs={"pk": image.post_id}) + "#body-images"

    def act(self, image):
        services.body_image_remove(image=image)
        messages.success(self.request, "Image removed.")
        return redirect(reverse("post_edit", kwargs={"pk": image.post_id}) + "#body-images")


class DraftListView(LoginRequiredMixin, ListView):
    template_name = "blog/post_drafts.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        return Post.objects.drafts_of(self.request.user).for_lists().order_by("-created_date")


class PostPublishView(PostActionView):
    def act(self, post):
        services.post_publish(post=post)
        messages.success(self.request, "Published.")
        return redirect(post)


class PostUnpublishView(PostActionView):
    def act(self, post):
        services.post_unpublish(post=post)
        messages.success(self.request, "Unpublished: the post is back in your drafts.")
        return redirect(post)


class PostDeleteView(ConfirmedActionView, PostActionView):
    kind = "post"
    consequence = "This cannot be undone: its comments and images go with it."

    def question(self, post) -> str:
        return f"Delete “{post.title}”?"

    def cancel_url(self, post) -> str:
        return post.get_absolute_url()

    def act(self, post):
        services.post_delete(post=post)
        messages.success(self.request, f"Deleted “{post.title}”.")
        return redirect("post_list")


@require_http_methods(["GET", "HEAD", "POST"])
def comment_create(request, pk: int):
    """GET shows the comment form; POST adds a comment that waits for moderation."""
    post = get_object_or_404(Post.objects.published(), pk=pk)
    if request.method == "POST":
        form = CommentForm(request.POST)
        if form.is_valid():
            # A form sent again is answered before the rate limit, which counts new comments.
            token = form.cleaned_data["creation_token"]
            if services.comment_sent_before(post=post, creation_token=token) is not None:
                messages.success(request, COMMENT_ALREADY_RECEIVED)
                return redirect(post)
            allowed = ratelimit.hit(
                "comment",
                client_ip(request),
                limit=settings.COMMENT_RATE_LIMIT,
                window=settings.COMMENT_RATE_WINDOW,
            )
            if not allowed:
                form.add_error(
                    None,
                    "You have posted several comments in a short time. "
                    "Please wait a few minutes and try again.",
                )
                return render(
                    request, "blog/comment_form.html", {"form": form, "post": post}, status=429
                )
            _, created = services.comment_create(post=post, **form.cleaned_data)
            messages.success(request, COMMENT_RECEIVED if created else COMMENT_ALREADY_RECEIVED)
            return redirect(post)
        return render(request, "blog/comment_form.html", {"form": form, "post": post}, status=400)
    initial = {"author_name": request.user.get_username()} if request.user.is_authenticated else {}
    form = CommentForm(initial=initial)
    return render(request, "blog/comment_form.html", {"form": form, "post": post})


class CommentApproveView(CommentActionView):
    def act(self, comment):
        services.comment_approve(comment=comment)
        messages.success(self.request, "Comment approved.")
        return self.back(comment)


class CommentRemoveView(ConfirmedActionView, CommentActionView):
    button = "Remove comment"
    kind = "comment"

    def question(self, comment) -> str:
        return f"Remove the comment by “{comment.author_name}” on “{comment.post.title}”?"

    def cancel_url(self, comment) -> str:
        return self.next_page() or comment.post.get_absolute_url()

    def act(self, comment):
        services.comment_remove(comment=comment)
        messages.success(self.request, "Comment removed.")
        return self.back(comment)


def search(request):
    form = SearchForm(request.GET)
    context = {"form": form, "query": "", "page_obj": None}
    if not form.is_valid():
        return render(request, "blog/search.html", context, status=400)
    query = form.cleaned_data["q"].strip()
    tag = form.cleaned_data["tag"]
    context["query"] = query
    context["tag"] = Tag.objects.filter(slug=tag).first() if tag else None
    if query:
        paginator = OneQueryPaginator(search_posts(query, tag=tag or None), PAGE_SIZE)
        try:
            context["page_obj"] = paginator.page(request.GET.get("page") or 1)
        except InvalidPage as exc:
            raise Http404("No such page of results.") from exc
    return render(request, "blog/search.html", context)


def robots_txt(request):
    return render(
        request,
        "robots.txt",
        {"sitemap_url": request.build_absolute_uri(reverse("sitemap"))},
        content_type="text/plain; charset=utf-8",
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view, with a limit per client address and per e-mail address, and no mail
    sent from the request: the form queues blog.tasks.send_password_reset for any address.

    A known and an unknown address get the same page, after the same work (one INSERT)."""

    form_class = QueuedPasswordResetForm

    def form_valid(self, form):
        limit = settings.PASSWORD_RESET_RATE_LIMIT
        email = form.cleaned_data["email"].strip().lower()
        allowed = ratelimit.hit("reset-ip", client_ip(self.request), limit=limit, window=3600)
        allowed = ratelimit.hit("reset-email", email, limit=limit, window=3600) and allowed
        if not allowed:
            form.add_error(
                None,
                "Too many password reset requests. Please wait an hour and try again, "
                "or use the last link you were sent.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)
