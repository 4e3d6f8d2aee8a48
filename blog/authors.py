"""Author pages: /author/<username>/ (their name, bio and published posts), its Atom feed,
and /account/profile/ where an author sets the name and bio shown there."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from blog.feeds import LatestPostsFeed
from blog.models import AuthorProfile, Post, display_name
from blog.pagination import page_of_posts

PAGE_SIZE = 10


def _author(username: str):
    return get_object_or_404(
        get_user_model().objects.select_related("author_profile"),
        username=username,
        is_active=True,
    )


def author_page(request, username: str):
    author = _author(username)
    posts = Post.objects.published().filter(author=author).for_lists()
    page = page_of_posts(request, posts, PAGE_SIZE)
    profile = getattr(author, "author_profile", None)
    return render(
        request,
        "blog/author.html",
        {
            "author": author,
            "name": display_name(author),
            "bio": profile.bio if profile else "",
            "page_obj": page,
            "post_list": page.object_list,
            "page_title": display_name(author),
        },
    )


class AuthorFeed(LatestPostsFeed):
    """The author's newest published posts."""

    def get_object(self, request, username: str):
        return _author(username)

    def title(self, obj) -> str:
        return f"{display_name(obj)} on kubeblog"

    def subtitle(self, obj) -> str:
        return f"The newest posts by {display_name(obj)}."

    def link(self, obj) -> str:
        return reverse("author", kwargs={"username": obj.get_username()})

    def posts(self, obj):
        return super().posts(obj).filter(author=obj)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = AuthorProfile
        fields = ["display_name", "bio"]
        labels = {"display_name": "Name shown on your posts' author page"}
        help_texts = {"bio": "Plain text, up to 600 characters."}
        widgets = {"bio": forms.Textarea(attrs={"rows": 4, "maxlength": 600})}


@login_required
def edit_profile(request):
    profile = AuthorProfile.objects.filter(user=request.user).first() or AuthorProfile(
        user=request.user
    )
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("author", username=request.user.get_username())
    status = 400 if request.method == "POST" else 200
    return render(request, "blog/profile_form.html", {"form": form}, status=status)
