"""{% post_summary %} and {% comment_content %}: blog.fragments from a template."""

from django import template

from blog import fragments

register = template.Library()
register.simple_tag(fragments.post_summary, name="post_summary")
register.simple_tag(fragments.comment_content, name="comment_content")
