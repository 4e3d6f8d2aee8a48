"""A page of a list and its total in one query, with Django's paging rules."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger

from blog.models import Post
from blog.pagination import OneQueryPaginator, with_total
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def _paginator(per_page=2):
    return OneQueryPaginator(with_total(Post.objects.published()).order_by("pk"), per_page)


def test_pages_count_every_row_and_show_their_own():
    posts = PostFactory.create_batch(5)
    paginator = _paginator()
    last = paginator.page(3)
    assert [p.pk for p in last] == [posts[4].pk]
    assert (paginator.count, paginator.num_pages) == (5, 3)
    assert not last.has_next() and last.has_previous()
    assert [p.pk for p in _paginator().page("2")] == [posts[2].pk, posts[3].pk]


def test_the_total_counts_only_what_the_list_shows():
    PostFactory.create_batch(3)
    PostFactory(published_date=None)  # a draft
    paginator = _paginator(per_page=10)
    paginator.page(1)
    assert paginator.count == 3


def test_an_empty_list_has_one_empty_page_and_no_other():
    assert list(_paginator().page(1)) == []
    assert _paginator().page(1).paginator.count == 0
    with pytest.raises(EmptyPage):
        _paginator().page(2)


@pytest.mark.parametrize("number", ["0", "-1", "4", str(2**61), "9" * 30])
def test_pages_outside_the_list_are_empty_pages(number):
    PostFactory.create_batch(5)
    with pytest.raises(EmptyPage):
        _paginator().page(number)


@pytest.mark.parametrize("number", ["abc", "", None, 1.5])
def test_a_page_number_must_be_a_whole_number(number):
    with pytest.raises(PageNotAnInteger):
        _paginator().page(number)
