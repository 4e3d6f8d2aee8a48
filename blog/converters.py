class IdConverter:
    """A primary key in the URL: digits that fit PostgreSQL's bigint (anything else is a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
