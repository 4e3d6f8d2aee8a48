"""Pages of a list in one query: the rows and their total together.

Django's Paginator counts first (a second query, compiled and sent for every page) and only
then fetches the page. Here the queryset carries the total as an annotation on every row
(`with_total`: one scalar subquery, which PostgreSQL evaluates once), so a page is one
round trip. The rules stay Django's: page numbers from 1, an empty first page allowed, any
other page past the end is an InvalidPage (the views answer 404).
"""

from django.core.paginator import EmptyPage, InvalidPage, Page, PageNotAnInteger, Paginator
from django.db.models import Func, IntegerField, Subquery

# OFFSET and LIMIT are 64-bit integers in PostgreSQL and SQLite: a page number sent by anyone
# must not become a larger one (a database error, where Django's Paginator, which counts
# first, never asks).
MAX_ROW = 2**62


def with_total(queryset):
    """`queryset` with `total`: how many rows it has without ORDER BY and slice, per row."""
    count = Func(function="COUNT", template="COUNT(*)", output_field=IntegerField())
    total = queryset.order_by().values(n=count)
    return queryset.annotate(total=Subquery(total, output_field=IntegerField()))


class OneQueryPaginator(Paginator):
    """A Paginator over a queryset annotated by `with_total`: the page reads the count."""

    def page(self, number) -> Page:
        number = _page_number(number)
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > MAX_ROW:  # past every list, and past what SQL can count
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if rows:
            self.__dict__["count"] = rows[0].total  # Paginator.count is a cached_property
        elif number == 1 and self.allow_empty_first_page:
            self.__dict__["count"] = 0
        else:
            raise EmptyPage(self.error_messages["no_results"])
        return self._get_page(rows, number, self)


def _page_number(number) -> int:
    """Paginator.validate_number, but for the upper bound, which the page's rows tell."""
    try:
        if isinstance(number, float) and not number.is_integer():
            raise ValueError
        number = int(number)
    except (TypeError, ValueError):
        raise PageNotAnInteger(Paginator.default_error_messages["invalid_page"]) from None
    if number < 1:
        raise EmptyPage(Paginator.default_error_messages["min_page"])
    return number


def page_of_posts(request, posts, size: int):
    """The requested page of `posts` (published, newest first, with comment counts) in one
    query; a page that does not exist is a 404."""
    from django.http import Http404

    posts = with_total(posts).with_comment_count().order_by("-published_date", "-pk")
    try:
        return OneQueryPaginator(posts, size).page(request.GET.get("page") or 1)
    except InvalidPage as exc:
        raise Http404("No such page of posts.") from exc
