"""Thin views: they check who may do what, then hand writes to blog.services."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import InvalidPage, Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from blog import services
from blog.forms import CommentForm, PostForm, SearchForm
from blog.models import Comment, Post
from blog.search import search_posts
from ops import ratelimit
from ops.client_ip import client_ip

PAGE_SIZE = 10


def can_moderate(user, post: Post) -> bool:
    """The post's author and staff may edit, publish, delete and moderate."""
    return user.is_authenticated and (user.is_staff or post.author_id == user.pk)


class OwnedPostMixin(LoginRequiredMixin):
    """Restrict a view to the posts the user may change; any other post is a 404."""

    def get_queryset(self):
        return Post.objects.editable_by(self.request.user)


class PostListView(ListView):
    template_name = "blog/post_list.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        return (
            Post.objects.published()
            .select_related("author")
            .with_comment_count()
            .defer("body", "body_html")
            .order_by("-published_date", "-pk")
        )


class PostDetailView(DetailView):
    template_name = "blog/post_detail.html"

    def get_queryset(self):
        return Post.objects.visible_to(self.request.user).select_related("author")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        post = self.object
        context["comments"] = post.comments.approved()
        if can_moderate(self.request.user, post):
            context["can_moderate"] = True
            context["pending_comments"] = post.comments.awaiting_moderation()
        return context


class PostCreateView(LoginRequiredMixin, CreateView):
    model = Post
    form_class = PostForm
    template_name = "blog/post_form.html"

    def form_valid(self, form):
        post = services.post_create(author=self.request.user, **form.cleaned_data)
        messages.success(self.request, "Draft saved. Publish it when it is ready.")
        return redirect(post)


class PostUpdateView(OwnedPostMixin, UpdateView):
    form_class = PostForm
    template_name = "blog/post_form.html"

    def form_valid(self, form):
        post = services.post_update(post=self.object, **form.cleaned_data)
        messages.success(self.request, "Changes saved.")
        return redirect(post)


class DraftListView(LoginRequiredMixin, ListView):
    template_name = "blog/post_drafts.html"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        return (
            Post.objects.drafts_of(self.request.user)
            .order_by("-created_date")
            .defer("body", "body_html")
        )


def _login_then(request, url: str):
    messages.info(request, "Please log in first.")
    return redirect_to_login(url)


def owned_post_action(view):
    """A POST-only action on a post the user may change: others get 404, visitors the login."""

    @require_POST
    @wraps(view)
    def wrapper(request, pk: int):
        if not request.user.is_authenticated:
            return _login_then(request, reverse("post_detail", args=[pk]))
        return view(request, get_object_or_404(Post.objects.editable_by(request.user), pk=pk))

    return wrapper


def moderated_comment_action(view):
    """A POST-only action on a comment under a post the user may moderate."""

    @require_POST
    @wraps(view)
    def wrapper(request, pk: int):
        if not request.user.is_authenticated:
            return _login_then(request, reverse("post_list"))
        comments = Comment.objects.filter(post__in=Post.objects.editable_by(request.user))
        return view(request, get_object_or_404(comments.select_related("post"), pk=pk))

    return wrapper


@owned_post_action
def post_publish(request, post: Post):
    services.post_publish(post=post, by=request.user)
    messages.success(request, "Published.")
    return redirect(post)


@owned_post_action
def post_remove(request, post: Post):
    services.post_delete(post=post, by=request.user)
    messages.success(request, f"Deleted “{post.title}”.")
    return redirect("post_list")


@require_http_methods(["GET", "HEAD", "POST"])
def comment_create(request, pk: int):
    """GET shows the comment form; POST adds a comment that waits for moderation."""
    post = get_object_or_404(Post.objects.published(), pk=pk)
    if request.method == "POST":
        form = CommentForm(request.POST)
        if form.is_valid():
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
            services.comment_create(post=post, **form.cleaned_data)
            messages.success(
                request, "Thank you. Your comment will appear once the author approves it."
            )
            return redirect(post)
        return render(request, "blog/comment_form.html", {"form": form, "post": post}, status=400)
    initial = {"author_name": request.user.get_username()} if request.user.is_authenticated else {}
    form = CommentForm(initial=initial)
    return render(request, "blog/comment_form.html", {"form": form, "post": post})


@moderated_comment_action
def comment_approve(request, comment: Comment):
    services.comment_approve(comment=comment, by=request.user)
    messages.success(request, "Comment approved.")
    return redirect(comment.post)


@moderated_comment_action
def comment_remove(request, comment: Comment):
    post = comment.post
    services.comment_remove(comment=comment, by=request.user)
    messages.success(request, "Comment removed.")
    return redirect(post)


def search(request):
    form = SearchForm(request.GET)
    context = {"form": form, "query": "", "page_obj": None}
    if not form.is_valid():
        return render(request, "blog/search.html", context, status=400)
    query = form.cleaned_data["q"].strip()
    context["query"] = query
    if query:
        paginator = Paginator(search_posts(query), PAGE_SIZE)
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
