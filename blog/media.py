"""Uploaded images in object storage: storing, deleting, renditions and the orphan sweep.

The database says which images exist (blog.models.PostImage); the bucket holds their bytes.
The two are kept consistent without a distributed transaction:
- an upload is stored *before* the transaction that records it, and deleted again if that
  transaction fails; a process killed in between leaves an orphan that nothing refers to;
- objects are deleted *after* the transaction that forgets them commits, by a task queued in
  that same transaction (a rollback queues nothing, so nothing is deleted);
- `sweep_orphans` (the housekeeping command, hourly) deletes what no row refers to, once it
  is older than any upload still being recorded.
So a row never points at a missing object, and an orphan lives at most a sweep interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from blog import images
from blog.models import Post, PostImage
from ops.pagecache import invalidate_public_pages

logger = logging.getLogger(__name__)

ORPHAN_GRACE = timedelta(hours=1)  # far longer than recording an upload can take
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)


class StorageUnavailable(Exception):
    """The object store could not be reached or refused the request."""


def store(prepared: images.PreparedImage) -> str:
    """Put a prepared image in the bucket under a new folder, and return the folder."""
    folder = images.new_folder()
    try:
        default_storage.save(images.original_name(folder, prepared.ext), ContentFile(prepared.data))
    except STORAGE_ERRORS as exc:
        logger.warning("image not stored: %s", exc)
        raise StorageUnavailable(str(exc)) from exc
    return folder


def record(post: Post, prepared: images.PreparedImage, folder: str, *, alt: str, role: str):
    """The row for an image just stored, and its renditions queued (inside the caller's
    transaction: they are made only if it commits)."""
    image = PostImage.objects.create(
        post=post,
        role=role,
        folder=folder,
        ext=prepared.ext,
        width=prepared.width,
        height=prepared.height,
        alt=alt,
    )
    if not prepared.animated and prepared.width > images.RENDITION_WIDTHS[0]:
        make_renditions.enqueue(image.pk)
    return image


def forget(image_rows) -> None:
    """Delete image rows, and queue the deletion of their objects for after the commit."""
    folders = [image.folder for image in image_rows]
    for image in image_rows:
        image.delete()
    if folders:
        delete_folders.enqueue(folders)


def discard(folder: str | None) -> None:
    """Delete what `store` put in `folder` when its row was never recorded. If the bucket
    cannot be reached now, the sweep will find the orphan."""
    if folder is None:
        return
    try:
        _delete_folder(folder)
    except STORAGE_ERRORS as exc:
        logger.warning("orphan %s left for the sweep: %s", folder, exc)


@task()
def make_renditions(image_id: int) -> list[int]:
    """Make an image's WebP renditions (blog.images.RENDITION_WIDTHS narrower than it) and
    refresh the pages that show it. Idempotent: a second run writes the same objects."""
    image = PostImage.objects.filter(pk=image_id).first()
    if image is None:
        return []
    with default_storage.open(images.original_name(image.folder, image.ext)) as original:
        data = original.read()
    made = []
    for width in images.RENDITION_WIDTHS:
        if width >= image.width:
            break
        name = images.rendition_name(image.folder, width)
        default_storage.delete(name)  # a run before this one may have made it: same name
        default_storage.save(name, ContentFile(images.rendition(data, width)))
        made.append(width)
    with transaction.atomic():
        if not PostImage.objects.filter(pk=image_id).update(renditions=made):
            return []  # deleted meanwhile: the sweep takes what was just made
        if image.role == PostImage.BODY:
            post = Post.objects.select_for_update().get(pk=image.post_id)
            post.save(update_fields=["body_html", "summary"])  # its <img> gains a srcset
        transaction.on_commit(invalidate_public_pages)
    return made


@task()
def delete_folders(folders: list[str]) -> int:
    """Delete every object of the given image folders (idempotent)."""
    return sum(_delete_folder(folder) for folder in folders)


def _delete_folder(folder: str) -> int:
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        default_storage.delete(f"{folder}/{name}")
    with contextlib.suppress(OSError, NotImplementedError):
        os.rmdir(default_storage.path(folder))  # the local disk's empty folder (`make run`)
    return len(names)


def sweep_orphans(older_than: timedelta = ORPHAN_GRACE) -> int:
    """Delete image folders that no row refers to and that are older than `older_than`:
    how many. Younger ones may belong to an upload whose row is being recorded."""
    try:
        folders, _ = default_storage.listdir(images.PREFIX)
    except FileNotFoundError:
        return 0
    except STORAGE_ERRORS as exc:
        raise StorageUnavailable(str(exc)) from exc
    paths = {f"{images.PREFIX}/{name}" for name in folders}
    known = set(PostImage.objects.filter(folder__in=paths).values_list("folder", flat=True))
    cutoff = timezone.now() - older_than
    removed = 0
    try:
        for folder in sorted(paths - known):
            _, names = default_storage.listdir(folder)
            times = [default_storage.get_modified_time(f"{folder}/{name}") for name in names]
            if all(t <= cutoff for t in times):
                removed += _delete_folder(folder) and 1
    except STORAGE_ERRORS as exc:
        raise StorageUnavailable(str(exc)) from exc
    return removed
