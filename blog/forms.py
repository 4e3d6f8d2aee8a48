import re
import uuid

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.text import slugify

from blog import images
from blog.models import Comment, Post


class CreationTokenField(forms.UUIDField):
    """A hidden one-time token, new each time an empty form is rendered.

    Sent again with the same form (a retry after a timeout or a 503, a double click), it lets
    blog.services find what the first sending created instead of creating it twice. It is a
    UUID or nothing: a form rendered by a release without it still creates normally.
    """

    widget = forms.HiddenInput
    default_error_messages = {
        "invalid": "This form was damaged on its way. Please open it again and resend."
    }

    def __init__(self, **kwargs):
        super().__init__(required=False, initial=uuid.uuid4, **kwargs)


class UploadedImageField(forms.FileField):
    """An image file, checked and re-encoded by blog.images.prepare: its clean value is the
    PreparedImage, never the bytes that were sent."""

    widget = forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"})

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        try:
            return images.prepare(upload)
        except images.ImageRefused as exc:
            raise forms.ValidationError(str(exc), code="refused") from exc


def _alt_field(required: bool) -> forms.CharField:
    return forms.CharField(
        label="Alt text",
        max_length=300,
        required=required,
        help_text="What the image shows, for people who cannot see it.",
    )


IMAGE_HELP = "JPEG, PNG, WebP or GIF, up to {mb:g} MB. Location and camera details are removed."


MAX_TAGS = 10
TAG_NAME = re.compile(r"^[\w][\w .+#-]*$")


class TagsField(forms.CharField):
    """Tags as an author types them, separated by commas: its clean value is a list of
    distinct names (case-insensitively), each with a slug for its page."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            max_length=MAX_TAGS * 51,
            help_text=f"Up to {MAX_TAGS}, separated by commas: “kubernetes, django”.",
            **kwargs,
        )

    def to_python(self, value):
        names, seen = [], set()
        for raw in (super().to_python(value) or "").split(","):
            name = " ".join(raw.split())
            if not name:
                continue
            if len(name) > 50 or not TAG_NAME.match(name) or not slugify(name):
                raise forms.ValidationError(
                    f"“{name[:60]}” is not a tag: up to 50 letters, digits, spaces and . + # -",
                    code="invalid",
                )
            if slugify(name) not in seen:
                seen.add(slugify(name))
                names.append(name)
        if len(names) > MAX_TAGS:
            raise forms.ValidationError(f"At most {MAX_TAGS} tags.", code="too_many")
        return names


class PostForm(forms.ModelForm):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18}),
        max_length=settings.POST_BODY_MAX_CHARS,
        strip=False,
        help_text="Markdown. Raw HTML is shown as text.",
    )
    tags = TagsField()
    publish_at = forms.DateTimeField(
        label="Publish at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=(
            "For “Publish”: leave empty to publish now, or choose when readers will see it "
            f"(time zone {settings.TIME_ZONE})."
        ),
    )
    image = UploadedImageField(
        label="Featured image",
        required=False,
        help_text=IMAGE_HELP.format(mb=settings.IMAGE_MAX_BYTES / 1e6),
    )
    image_alt = _alt_field(required=False)

    class Meta:
        model = Post
        fields = ["title", "body"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tags"].initial = ", ".join(n for _, n in self.instance.tag_list)
        if self.instance.is_published:
            del self.fields["publish_at"]  # published: "Unpublish" on its page, not here
        elif self.instance.is_scheduled:
            self.fields["publish_at"].initial = timezone.localtime(self.instance.published_date)
        featured = self.instance.featured if self.instance.pk else None
        if featured is not None:
            self.fields["image"].label = "Replace the featured image"
            self.fields["image_alt"].initial = featured.alt
            self.fields["remove_image"] = forms.BooleanField(
                label="Remove the featured image", required=False
            )

    def clean_publish_at(self):
        at = self.cleaned_data["publish_at"]
        if at is not None and at <= timezone.now():
            raise forms.ValidationError("Choose a moment still to come, or leave it empty.")
        return at

    def clean(self):
        cleaned = super().clean()
        has_image = cleaned.get("image") is not None or (
            self.instance.pk and self.instance.featured and not cleaned.get("remove_image")
        )
        if has_image and not (cleaned.get("image_alt") or "").strip():
            self.add_error("image_alt", "Describe the image for people who cannot see it.")
        return cleaned

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("A title needs at least one visible character.")
        return title

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write something before saving.")
        return body


class NewPostForm(PostForm):
    """The form for a new draft. Editing needs no token: an edit sent twice changes nothing."""

    creation_token = CreationTokenField()


class CommentForm(forms.ModelForm):
    text = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
        help_text="Up to 5,000 characters of Markdown. Comments appear after moderation.",
    )
    creation_token = CreationTokenField()

    class Meta:
        model = Comment
        fields = ["author_name", "text"]
        labels = {"author_name": "Your name"}


class BodyImageForm(forms.Form):
    """An image to show in a post's body, by the Markdown reference it then gets. Its
    fields are prefixed: it shares the edit page with the post's own image field."""

    prefix = "inline"

    image = UploadedImageField(
        label="Image", help_text=IMAGE_HELP.format(mb=settings.IMAGE_MAX_BYTES / 1e6)
    )
    alt = _alt_field(required=True)


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search posts", max_length=settings.SEARCH_QUERY_MAX_CHARS, required=False
    )
    # Only posts with this tag (a tag page's "Search within this tag").
    tag = forms.SlugField(max_length=60, required=False, widget=forms.HiddenInput)


class LoginForm(AuthenticationForm):
    """Django's login form, with the username's length actually enforced.

    AuthenticationForm sets the field's max_length after the field is built, which adds no
    validator; an over-long name would reach authenticate() and the lock-out records.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form; the mail is queued for the worker (blog.tasks), never sent here."""

    def save(self, *args, **kwargs) -> None:
        from blog.tasks import send_password_reset

        send_password_reset.enqueue(self.cleaned_data["email"], uuid.uuid4().hex)
