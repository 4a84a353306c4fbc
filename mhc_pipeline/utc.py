"""Time is UTC everywhere: one parser for the ISO-8601 times that configs and the CLI accept."""

from datetime import UTC, datetime


def now() -> datetime:
    """Now, in UTC, to the microsecond: a fetch time is part of its batch's identity, and two fetches in
    the same second are two batches (cut to the second, the second one was taken as "already landed")."""
    return datetime.now(UTC)


def parse_time(value: str | None) -> datetime:
    """An ISO-8601 time (`Z` or an offset; none means UTC), or now when empty."""
    if not value:
        return now()
    t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
