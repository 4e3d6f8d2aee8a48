"""Seed the benchmark database with a realistic blog, in two stages.

`python -m bench.seed small OUT.json` creates the authors and two published posts with one
comment each; `python -m bench.seed full OUT.json` grows that to 1,000 published posts of
1-5 KB Markdown, 20 authors, 5,000 approved comments (20 of them on the post whose page is
measured), a few drafts and comments awaiting moderation, and logged-in sessions for the
authors of the reader/author mix. Queries per page are counted after each stage, so a count
that grows with the data shows.

Runs with the production settings against the benchmark's PostgreSQL and Redis. Markdown is
rendered exactly as Post.save() renders it; rows are written in bulk for speed.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import timedelta
from pathlib import Path

from config.startup import load_settings_or_exit

AUTHORS = 20
POSTS = 1_000
APPROVED_COMMENTS = 5_000
DETAIL_COMMENTS = 20
PENDING_COMMENTS = 200
DRAFTS_PER_AUTHOR = 2
SESSIONS = 4
PASSWORD = "bench-only-password-not-a-secret"  # noqa: S105

# Each post is about two of these; the search figure looks for one, so it matches ~10% of posts.
TOPICS = [
    "kubernetes", "postgresql", "redis", "gunicorn", "nginx", "django", "python", "docker",
    "prometheus", "grafana", "terraform", "helm", "ansible", "rust", "golang", "linux",
    "networking", "security", "observability", "caching",
]  # fmt: skip
SEARCH_TERM = "kubernetes"
WORDS = (  # noqa: SIM905 - a paragraph of words reads better than a 150-item list
    "the a of and to in is it that for on with as at by from this be or an are was were can will "
    "replica pod service deployment cluster node request response latency throughput memory "
    "process worker thread queue cache page query index table row column schema migration "
    "rollout rollback health probe ready drain signal shutdown timeout retry backoff error log "
    "metric trace alert dashboard config secret volume image build release version test bench "
    "load traffic user reader author post comment draft publish feed search sitemap template "
    "view model form field value key header cookie session token origin proxy edge upstream "
    "scale replica budget policy network port address host name label selector annotation "
    "careful quick slow simple small large fast steady stable safe clear plain honest useful "
    "measure compare explain choose keep move change start stop serve store read write send"
).split()


def _sentence(rng: random.Random, topics: list[str]) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    if rng.random() < 0.35:
        words[rng.randrange(len(words))] = rng.choice(topics)
    if rng.random() < 0.15:
        i = rng.randrange(len(words))
        words[i] = f"**{words[i]}**"
    if rng.random() < 0.1:
        i = rng.randrange(len(words))
        words[i] = f"`{words[i]}`"
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, topics: list[str]) -> str:
    return " ".join(_sentence(rng, topics) for _ in range(rng.randint(2, 5)))


def markdown_body(rng: random.Random, topics: list[str]) -> str:
    """1-5 KB of Markdown: paragraphs, headings, a list, a link, sometimes code or a quote."""
    target = rng.randint(1024, 5 * 1024)
    parts = [_paragraph(rng, topics)]
    while len("\n\n".join(parts)) < target:
        kind = rng.random()
        if kind < 0.12:
            parts.append(f"## {_sentence(rng, topics)[:-1].title()}")
        elif kind < 0.22:
            parts.append("\n".join(f"- {_sentence(rng, topics)}" for _ in range(rng.randint(2, 5))))
        elif kind < 0.28:
            parts.append(
                "```python\n"
                + "\n".join(
                    f"{rng.choice(WORDS)} = {rng.choice(WORDS)}({rng.randint(1, 99)})"
                    for _ in range(rng.randint(2, 6))
                )
                + "\n```"
            )
        elif kind < 0.32:
            parts.append(f"> {_sentence(rng, topics)}")
        elif kind < 0.40:
            parts.append(
                f"{_sentence(rng, topics)} See [the {rng.choice(topics)} notes]"
                f"(https://example.com/{rng.choice(topics)}/{rng.randint(1, 500)})."
            )
        else:
            parts.append(_paragraph(rng, topics))
    return "\n\n".join(parts)[: 5 * 1024]


def _comment_text(rng: random.Random) -> str:
    return " ".join(_sentence(rng, TOPICS) for _ in range(rng.randint(1, 3)))


def seed(stage: str, out: Path) -> dict:
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.db import connection, transaction
    from django.utils import timezone

    from blog.markdown import plain_summary, render_markdown
    from blog.models import Comment, Post

    rng = random.Random(f"kubeblog-bench-{stage}")
    user_model = get_user_model()
    now = timezone.now()

    def new_post(author, published: bool, topics: list[str] | None = None) -> Post:
        topics = topics or rng.sample([t for t in TOPICS if t != SEARCH_TERM], 2)
        if rng.random() < 0.1:
            topics = [SEARCH_TERM, *topics[:1]]
        body = markdown_body(rng, topics)
        html = render_markdown(body)
        title = f"{_sentence(rng, topics)[:-1].title()[:120]}"
        created = now - timedelta(days=rng.uniform(1, 3 * 365))
        return Post(
            author=author,
            title=title,
            body=body,
            body_html=html,
            summary=plain_summary(html),
            created_date=created,
            published_date=(
                min(now - timedelta(minutes=10), created + timedelta(hours=rng.uniform(0, 48)))
                if published
                else None
            ),
        )

    def new_comment(post: Post, approved: bool = True) -> Comment:
        text = _comment_text(rng)
        return Comment(
            post=post,
            author_name=rng.choice(WORDS).title() + " " + rng.choice(WORDS).title(),
            text=text,
            text_html=render_markdown(text),
            created_date=min(now, post.published_date + timedelta(hours=rng.uniform(1, 500))),
            approved=approved,
        )

    with transaction.atomic():
        if stage == "small":
            password = make_password(PASSWORD)  # one hash for all: hashing is slow on purpose
            authors = user_model.objects.bulk_create(
                [
                    user_model(
                        username=f"author{i:02d}",
                        email=f"author{i:02d}@example.invalid",
                        password=password,
                    )
                    for i in range(AUTHORS)
                ]
            )
            detail = new_post(authors[0], True, [SEARCH_TERM, "django"])
            # The measured post is the newest, so it is on the home page too.
            detail.published_date = now - timedelta(minutes=5)
            posts = Post.objects.bulk_create([detail, new_post(authors[1], True)])
            Comment.objects.bulk_create([new_comment(p) for p in posts])
        else:
            authors = list(user_model.objects.filter(username__startswith="author"))
            existing = list(Post.objects.order_by("pk"))
            detail = existing[0]
            posts = Post.objects.bulk_create(
                [new_post(rng.choice(authors), True) for _ in range(POSTS - len(existing))]
            )
            Post.objects.bulk_create(
                [new_post(a, False) for a in authors for _ in range(DRAFTS_PER_AUTHOR)]
            )
            all_posts = existing + posts
            remaining = APPROVED_COMMENTS - Comment.objects.filter(approved=True).count()
            on_detail = DETAIL_COMMENTS - detail.comments.filter(approved=True).count()
            comments = [new_comment(detail) for _ in range(on_detail)]
            others = all_posts[1:]
            comments += [new_comment(rng.choice(others)) for _ in range(remaining - on_detail)]
            comments += [new_comment(rng.choice(others), False) for _ in range(PENDING_COMMENTS)]
            Comment.objects.bulk_create(comments, batch_size=1000)

    # What autovacuum does on a live site after a bulk load: statistics, the visibility map
    # (counts by index only) and the full-text index's pending list merged into the index.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    detail = Post.objects.order_by("pk").first()
    published = list(
        Post.objects.published().order_by("pk").values_list("pk", "author_id", named=True)
    )
    sessions = []
    if stage == "full":
        for author in user_model.objects.filter(username__startswith="author").order_by("pk")[
            :SESSIONS
        ]:
            store = SessionStore()
            store[SESSION_KEY] = str(author.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = author.get_session_auth_hash()
            store.create()
            own = [p.get_absolute_url() for p in published if p.author_id == author.pk]
            sessions.append({"sessionid": store.session_key, "posts": own[:50]})
    data = {
        "stage": stage,
        "posts": len(published),
        "approved_comments": Comment.objects.filter(approved=True).count(),
        "detail_pk": detail.pk,
        "detail_url": detail.get_absolute_url(),
        "detail_comments": detail.comments.filter(approved=True).count(),
        "authors": user_model.objects.filter(username__startswith="author").count(),
        "post_pks": [p.pk for p in published],
        "post_urls": [p.get_absolute_url() for p in published],  # /post/<pk>/<slug>/
        "search_term": SEARCH_TERM,
        "topics": TOPICS,
        "sessions": sessions,
    }
    out.write_text(json.dumps(data))
    return data


def main(argv: list[str]) -> int:
    stage, out = argv
    load_settings_or_exit("config.settings.production")
    import django

    django.setup()
    data = seed(stage, Path(out))
    print(
        f"seeded ({stage}): {data['posts']} posts, {data['approved_comments']} approved comments, "
        f"{data['authors']} authors; measured post #{data['detail_pk']} has "
        f"{data['detail_comments']} comments"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
