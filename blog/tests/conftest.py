import pytest

from blog.tests.factories import PostFactory, UserFactory


@pytest.fixture
def author(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="mallory")


@pytest.fixture
def staff(db):
    return UserFactory(username="sam", is_staff=True)


@pytest.fixture
def author_client(client, author):
    client.force_login(author)
    return client


@pytest.fixture
def published_post(author):
    return PostFactory(author=author, title="A published post")


@pytest.fixture
def draft_post(author):
    return PostFactory(author=author, title="A draft post", draft=True)
