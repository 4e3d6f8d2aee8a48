"""{% post_summary %} and {% comment_content %}: blog.fragments from a template;
{% post_image %}: an uploaded image with its size and renditions (blog.images)."""

from django import template
from django.utils.safestring import mark_safe

from blog import fragments, images

register = template.Library()
register.simple_tag(fragments.post_summary, name="post_summary")
register.simple_tag(fragments.comment_content, name="comment_content")


@register.simple_tag
def post_image(image, lazy=True, css_class=""):
    return mark_safe(images.img_tag(image, lazy=lazy, css_class=css_class))  # noqa: S308 - escaped
