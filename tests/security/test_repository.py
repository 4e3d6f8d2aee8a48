"""The repository holds no real secret: only example env files and test-only values."""

import re
import subprocess
from pathlib import Path

from harness.paths import ROOT

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe key": re.compile(r"\b[sr]k_live_[0-9a-zA-Z]{16,}\b"),
    "URL with a password": re.compile(
        r"\b(?:postgres(?:ql)?|redis|mysql|amqp)://[^:/\s\"']+:"
        r"(?!\$|<|\{|password|pass\b|p@|u:p|CHANGE|change)"
        r"[^@\s\"']{6,}@(?!127\.0\.0\.1|localhost)"
    ),
    "Django secret key assignment": re.compile(
        r"DJANGO_SECRET_KEY\s*[=:]\s*[\"']?(?![$<{])(?![^\n]*(?:change|example|replace|"
        r"build-only|test|dummy|placeholder))[^\s\"'|]{20,}(?=[\s\"']|$)",
        re.IGNORECASE | re.MULTILINE,
    ),
}
# Tests hold made-up credentials on purpose (to check scrubbing, parsing, policies); in them
# only the unmistakable shapes of real keys are looked for.
TEST_ONLY_PATTERNS = (
    "private key",
    "AWS access key",
    "GitHub token",
    "Slack token",
    "Google API key",
    "Stripe key",
)

# Files whose job is to hold fake secrets, with why.
ALLOWED_FILES = {
    "tests/security/test_repository.py": "the patterns themselves",
    "blog/tests/data/xss_payloads.txt": "attack strings, no credentials",
}


def _tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / name for name in out.splitlines() if (ROOT / name).is_file()]


def scan(text: str, *, in_tests: bool = False) -> list[str]:
    names = TEST_ONLY_PATTERNS if in_tests else PATTERNS
    return [name for name in names if PATTERNS[name].search(text)]


def _is_test_file(relative: str) -> bool:
    parts = Path(relative).parts
    return "tests" in parts or Path(relative).name.startswith(("test_", "conftest"))


def test_the_scanner_finds_what_it_looks_for():
    samples = {
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "AWS access key": "key = AKIAIOSFODNN7EXAMPLQ",
        "URL with a password": "DATABASE_URL=postgres://app:Xy7Lq2mZ9@db.prod.internal/blog",
        "Django secret key assignment": "DJANGO_SECRET_KEY=9f8k2l!m3n4b5v6c7x8z9a0s1d2f3g4",
    }
    for name, sample in samples.items():
        assert name in scan(sample), name


def test_no_tracked_file_holds_a_secret():
    found = []
    for path in _tracked_files():
        relative = str(path.relative_to(ROOT))
        if relative in ALLOWED_FILES or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.extend(f"{relative}: {name}" for name in scan(text, in_tests=_is_test_file(relative)))
    assert not found, found


def test_real_env_files_are_ignored_and_only_examples_are_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be gitignored"
    env_like = [
        p
        for p in _tracked_files()
        if p.name == ".env" or (p.name.endswith(".env") and "secret" in p.name)
    ]
    assert env_like == [], env_like
