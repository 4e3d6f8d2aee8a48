import pytest

from blog.tests.factories import PostFactory


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
