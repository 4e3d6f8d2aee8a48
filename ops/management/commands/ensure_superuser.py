"""Create or update the first administrator from the environment; safe to run every deploy."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.env import env

REQUIRED = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD")


class Command(BaseCommand):
    help = (
        "Create the administrator named by DJANGO_SUPERUSER_USERNAME with "
        "DJANGO_SUPERUSER_PASSWORD (and DJANGO_SUPERUSER_EMAIL), or bring an existing one "
        "up to date. Replaces an interactive `createsuperuser` in a pod."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        missing = [name for name in REQUIRED if not env(name)]
        if missing:
            raise CommandError(f"set {', '.join(missing)} to create the administrator")
        username = env("DJANGO_SUPERUSER_USERNAME")
        password = env("DJANGO_SUPERUSER_PASSWORD")
        email = env("DJANGO_SUPERUSER_EMAIL")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=username)
        changed = created or not user.check_password(password)
        if changed:
            user.set_password(password)
        if email and user.email != email:
            user.email, changed = email, True
        if not (user.is_staff and user.is_superuser and user.is_active):
            user.is_staff = user.is_superuser = user.is_active = True
            changed = True
        if changed:
            user.save()
        state = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(f"ensure_superuser: {username} {state}")
