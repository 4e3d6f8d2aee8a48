"""Uploaded images: what is accepted and how it is re-encoded, the forms and views that take
them, the renditions, and the lifecycle of their objects (in Django's in-memory storage here;
tests/storage runs the same paths against a real S3 server)."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from PIL import Image

from blog import images, media
from blog.models import Post, PostImage
from blog.tests import imagefiles
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings):
    """A new, empty in-memory bucket for each test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    return default_storage


def stored(prefix: str = images.PREFIX) -> list[str]:
    """Every object name under `prefix`."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    names = [f"{prefix}/{f}" for f in files]
    for folder in folders:
        names += stored(f"{prefix}/{folder}")
    return sorted(names)


def queued(task) -> list[list]:
    return [r.args_kwargs["args"] for r in DBTaskResult.objects.filter(task_path=task.module_path)]


# --- what is accepted ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif")]
)
def test_each_accepted_format_is_decoded_and_re_encoded_in_its_own_format(kind, ext):
    sent = imagefiles.encoded(kind, 640, 400)
    prepared = images.prepare(imagefiles.upload(sent, f"x.{ext}"))
    assert (prepared.ext, prepared.width, prepared.height) == (ext, 640, 400)
    again = Image.open(io.BytesIO(prepared.data))
    assert again.format == kind
    if kind in ("PNG", "GIF"):  # lossless: the same pixels, whatever the bytes
        assert (
            again.convert("RGB").tobytes() == Image.open(io.BytesIO(sent)).convert("RGB").tobytes()
        )


def test_gps_camera_and_comment_are_gone_from_the_re_encoded_photo():
    sent = imagefiles.jpeg_with_gps()
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(imagefiles.GPS_IFD)  # it had them
    prepared = images.prepare(imagefiles.upload(sent))
    clean = Image.open(io.BytesIO(prepared.data))
    assert dict(clean.getexif()) == {}
    assert "comment" not in clean.info and "exif" not in clean.info
    for marker in (b"PhoneMaker", b"Phone 12", b"taken at home", b"Exif\x00\x00"):
        assert marker not in prepared.data


def test_a_sideways_photo_is_stored_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    out = io.BytesIO()
    imagefiles.picture(300, 200).save(out, "JPEG", exif=exif.tobytes())
    prepared = images.prepare(imagefiles.upload(out.getvalue()))
    assert (prepared.width, prepared.height) == (200, 300)


def test_a_large_photo_is_stored_at_most_max_side_wide():
    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("JPEG", 4000, 1000)))
    assert (prepared.width, prepared.height) == (images.MAX_SIDE, 600)


def test_an_animated_gif_keeps_its_frames():
    prepared = images.prepare(imagefiles.upload(imagefiles.animated_gif(4), "a.gif"))
    assert prepared.animated
    assert Image.open(io.BytesIO(prepared.data)).n_frames == 4


@pytest.mark.parametrize("name", list(imagefiles.bad_files()))
def test_every_bad_file_is_refused_with_a_reason(name):
    filename, data, content_type = imagefiles.bad_files()[name]
    with pytest.raises(images.ImageRefused) as refused:
        images.prepare(imagefiles.upload(data, filename, content_type))
    assert str(refused.value).startswith("This ")


def test_a_file_over_the_size_limit_is_refused_saying_both_sizes(settings):
    settings.IMAGE_MAX_BYTES = 1000
    with pytest.raises(images.ImageRefused, match=r"is 0\.\d MB; images can be at most 0\.0 MB"):
        images.prepare(imagefiles.upload(imagefiles.noisy("PNG", 200, 200)))


def test_the_pixel_limit_counts_every_frame(settings):
    settings.IMAGE_MAX_PIXELS = 64 * 48 * 3
    images.prepare(imagefiles.upload(imagefiles.animated_gif(3), "a.gif"))
    with pytest.raises(images.ImageRefused, match="4 frames"):
        images.prepare(imagefiles.upload(imagefiles.animated_gif(4), "a.gif"))


# --- the forms and views ------------------------------------------------------------------------
def _new_post(client, **extra):
    data = {"title": "With a picture", "body": "Words.", **extra}
    return client.post(reverse("post_new"), data)


def test_a_new_post_with_a_featured_image_shows_it_everywhere(author_client, author):
    sent = imagefiles.jpeg_with_gps(1200, 800)
    response = _new_post(author_client, image=imagefiles.upload(sent), image_alt="A red kite")
    assert response.status_code == 302
    post = Post.objects.get(title="With a picture")
    image = post.featured
    assert (image.alt, image.width, image.height, image.ext) == ("A red kite", 1200, 800, "jpg")
    assert stored() == [f"{image.folder}/original.jpg"]
    assert re.fullmatch(r"images/[0-9a-f]{32}", image.folder)
    assert queued(media.make_renditions) == [[image.pk]]
    with default_storage.open(f"{image.folder}/original.jpg") as f:
        assert b"PhoneMaker" not in f.read()
    page = author_client.get(post.get_absolute_url()).content.decode()
    src = f"/media/{image.folder}/original.jpg"
    assert f'<img src="{src}" alt="A red kite" width="1200" height="800"' in page
    services_publish(post)
    home = author_client.get("/").content.decode()
    assert f'src="{src}"' in home and 'loading="lazy"' in home


def services_publish(post):
    from blog import services

    services.post_publish(post=post)


def test_an_image_without_alt_text_is_refused_and_nothing_is_kept(author_client):
    response = _new_post(author_client, image=imagefiles.upload(imagefiles.encoded("PNG")))
    assert response.status_code == 200
    assert "Describe the image for people who cannot see it." in response.content.decode()
    assert not Post.objects.exists()
    assert stored() == []


@pytest.mark.parametrize("name", list(imagefiles.bad_files()))
def test_a_bad_file_is_a_form_error_with_no_post_and_no_object(author_client, name):
    filename, data, content_type = imagefiles.bad_files()[name]
    upload = imagefiles.upload(data, filename, content_type)
    response = _new_post(author_client, image=upload, image_alt="alt")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="errorlist' in page and "Words." in page  # the author's text is kept
    assert not Post.objects.exists()
    assert stored() == []


def test_an_upload_over_the_limit_is_read_in_memory_no_further(author_client, settings):
    settings.IMAGE_MAX_BYTES = 20_000
    big = imagefiles.noisy("PNG", 200, 200)
    assert len(big) > 20_000
    response = _new_post(author_client, image=imagefiles.upload(big, "big.png"), image_alt="a")
    assert "images can be at most 0.0 MB" in response.content.decode()
    assert not Post.objects.exists()


def test_two_files_in_one_request_are_refused(author_client):
    files = [imagefiles.upload(imagefiles.encoded("PNG", 9, 9), f"{i}.png") for i in (1, 2)]
    response = author_client.post(
        reverse("post_new"), {"title": "t", "body": "b", "image": files, "image_alt": "a"}
    )
    assert response.status_code == 400
    assert not Post.objects.exists()


def test_replacing_the_featured_image_queues_the_old_ones_deletion(author_client, author):
    _new_post(author_client, image=imagefiles.upload(imagefiles.encoded("PNG")), image_alt="one")
    post = Post.objects.get()
    old = post.featured.folder
    response = author_client.post(
        reverse("post_edit", kwargs={"pk": post.pk}),
        {
            "title": post.title,
            "body": post.body,
            "image": imagefiles.upload(imagefiles.encoded("WEBP"), "two.webp"),
            "image_alt": "two",
        },
    )
    assert response.status_code == 302
    new = Post.objects.get().featured
    assert (new.alt, new.ext) == ("two", "webp") and new.folder != old
    assert queued(media.delete_folders) == [[[old]]]
    media.delete_folders.call([old])
    assert stored() == [f"{new.folder}/original.webp"]


def test_the_featured_image_can_be_removed_and_its_alt_text_edited(author_client):
    _new_post(author_client, image=imagefiles.upload(imagefiles.encoded("PNG")), image_alt="one")
    post = Post.objects.get()
    edit = reverse("post_edit", kwargs={"pk": post.pk})
    author_client.post(edit, {"title": "t", "body": "b", "image_alt": "better words"})
    assert Post.objects.get().featured.alt == "better words"
    author_client.post(edit, {"title": "t", "body": "b", "remove_image": "on"})
    assert Post.objects.get().featured is None
    assert len(queued(media.delete_folders)) == 1


def test_a_body_image_gets_a_markdown_line_and_its_size_in_the_body(author_client, author):
    post = PostFactory(author=author, body="Intro.")
    response = author_client.post(
        reverse("post_image_add", kwargs={"pk": post.pk}),
        {
            "inline-image": imagefiles.upload(imagefiles.encoded("PNG", 1000, 500), "d.png"),
            "inline-alt": "A [map]",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#body-images")
    image = post.images.get()
    line = images.markdown_reference(image)
    assert line == rf"![A \[map\]](/media/{image.folder}/original.png)"
    edit_page = author_client.get(reverse("post_edit", kwargs={"pk": post.pk})).content.decode()
    assert "A \\[map\\]" in edit_page
    author_client.post(
        reverse("post_edit", kwargs={"pk": post.pk}),
        {"title": post.title, "body": f"Intro.\n\n{line}"},
    )
    media.make_renditions.call(image.pk)
    body = Post.objects.get(pk=post.pk).body_html
    assert (
        f'src="/media/{image.folder}/original.png" alt="A [map]" width="1000" height="500"' in body
    )
    assert f"/media/{image.folder}/w480.webp 480w, /media/{image.folder}/w960.webp 960w" in body
    assert 'loading="lazy"' in body


def test_removing_a_body_image_queues_its_deletion(author_client, author):
    post = PostFactory(author=author)
    author_client.post(
        reverse("post_image_add", kwargs={"pk": post.pk}),
        {"inline-image": imagefiles.upload(imagefiles.encoded("PNG"), "d.png"), "inline-alt": "d"},
    )
    image = post.images.get()
    author_client.post(reverse("post_image_remove", kwargs={"pk": image.pk}))
    assert not post.images.exists()
    assert queued(media.delete_folders) == [[[image.folder]]]


def test_a_bad_body_image_is_a_form_error_on_the_edit_page(author_client, author):
    post = PostFactory(author=author)
    response = author_client.post(
        reverse("post_image_add", kwargs={"pk": post.pk}),
        {
            "inline-image": imagefiles.upload(imagefiles.encoded("BMP", 9, 9), "x.bmp"),
            "inline-alt": "x",
        },
    )
    assert response.status_code == 400
    assert "not a JPEG, PNG, WebP or GIF" in response.content.decode()
    assert stored() == []


# --- renditions and lifecycle -------------------------------------------------------------------
def test_renditions_are_made_for_each_narrower_width_and_listed_in_srcset(author):
    post = PostFactory(author=author)
    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("JPEG", 1200, 800)))
    image = media.record(post, prepared, media.store(prepared), alt="a", role=PostImage.FEATURED)
    assert media.make_renditions.call(image.pk) == [480, 960]
    assert media.make_renditions.call(image.pk) == [480, 960]  # idempotent
    assert stored() == [f"{image.folder}/{n}" for n in ("original.jpg", "w480.webp", "w960.webp")]
    with default_storage.open(f"{image.folder}/w480.webp") as f:
        small = Image.open(io.BytesIO(f.read()))
        assert (small.format, small.size) == ("WEBP", (480, 320))
    tag = images.img_tag(PostImage.objects.get(pk=image.pk))
    assert 'sizes="(max-width: 48rem) 100vw, 48rem"' in tag
    assert f"w960.webp 960w, /media/{image.folder}/original.jpg 1200w" in tag


def test_deleting_a_post_deletes_its_objects_after_the_commit(author_client, author):
    _new_post(author_client, image=imagefiles.upload(imagefiles.encoded("PNG")), image_alt="a")
    post = Post.objects.get()
    folder = post.featured.folder
    author_client.post(reverse("post_remove", kwargs={"pk": post.pk}))
    assert not PostImage.objects.exists()
    assert queued(media.delete_folders) == [[[folder]]]
    assert media.delete_folders.call([folder]) == 1
    assert stored() == []


def test_the_sweep_removes_orphans_only_once_they_are_old(author):
    post = PostFactory(author=author)
    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("PNG", 50, 50)))
    kept = media.record(post, prepared, media.store(prepared), alt="a", role=PostImage.BODY)
    orphan = media.store(prepared)  # as if the process died before recording it
    assert media.sweep_orphans() == 0  # too young: it may be an upload being recorded
    assert media.sweep_orphans(older_than=media.timedelta(0)) == 1
    assert stored() == [f"{kept.folder}/original.png"]
    assert orphan not in " ".join(stored())


def test_a_body_reference_to_another_site_gets_lazy_loading_only():
    html = '<p><img src="https://example.com/x.png" alt="x"></p>'
    assert images.enhance_body_images(html, []) == (
        '<p><img src="https://example.com/x.png" alt="x" loading="lazy" decoding="async"></p>'
    )
