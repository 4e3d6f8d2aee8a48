import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from blog.models import Comment, Post

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"author{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.django.Password(PASSWORD)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Post number {n}")
    body = factory.Faker("paragraph", nb_sentences=5)
    published_date = factory.LazyFunction(timezone.now)

    class Params:
        draft = factory.Trait(published_date=None)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    post = factory.SubFactory(PostFactory)
    author_name = factory.Faker("first_name")
    text = factory.Faker("sentence")
    approved = True
