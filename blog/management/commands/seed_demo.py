"""Load a demo author and a few posts, once; running it again changes nothing."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from blog.models import Comment, Post

DEMO_USERNAME = "demo"

DEMO_POSTS = [
    (
        "Welcome to kubeblog",
        "kubeblog is the Django Girls tutorial blog, grown up: **drafts**, publishing, "
        "comments with moderation, search and an Atom feed.\n\n"
        "Every page tells you which replica served it (look at the footer), so you can watch "
        "a load balancer spread requests and a rolling update change the header colour.",
    ),
    (
        "Markdown is rendered once",
        "Posts are written in Markdown. The HTML is made and *sanitised* when you save, "
        "so reading a page never renders anything:\n\n"
        "- lists\n- `code`\n- [links](https://www.djangoproject.com/)\n\n"
        "> Raw HTML such as <script> is shown as text, never run.",
    ),
    (
        "Any replica can die",
        "Sessions, content and the cache live in PostgreSQL and Redis, not in the web process. "
        "Kill a replica and the load balancer sends the next request to another one.",
    ),
]


class Command(BaseCommand):
    help = "Create the demo author and demo posts if they do not exist, and print the login."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password-file", default=str(Path(settings.BASE_DIR) / "var" / "demo-login.txt")
        )

    @transaction.atomic
    def handle(self, *args, password_file: str, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo is for local development (DEBUG on) only.")
        path = Path(password_file)
        user_model = get_user_model()
        user = user_model.objects.filter(username=DEMO_USERNAME).first()
        if user is None or not path.exists():
            password = secrets.token_urlsafe(12)
            user = user or user_model(username=DEMO_USERNAME, email="demo@example.invalid")
            user.set_password(password)
            user.save()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
        password = path.read_text().strip()
        for title, body in DEMO_POSTS:
            post, created = Post.objects.get_or_create(
                title=title,
                author=user,
                defaults={"body": body, "published_date": timezone.now()},
            )
            if created and title == DEMO_POSTS[0][0]:
                Comment.objects.create(
                    post=post,
                    author_name="A reader",
                    text="Nice to see the header change colour!",
                    approved=True,
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo author ready. Log in at /accounts/login/ as {DEMO_USERNAME!r} "
                f"with password {password!r} (kept in {path})."
            )
        )
