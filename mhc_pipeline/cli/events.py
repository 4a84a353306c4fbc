"""`mhc events-worker`: consume the owner's Events API feed continuously (Ctrl-C / SIGTERM stop it)."""

from __future__ import annotations

import signal
import sys

import click

from mhc_pipeline import runtime, settings


@click.command("events-worker", short_help="Consume the owner's Events API feed continuously.")
@click.option("--timeout", type=int, default=30, show_default=True, help="Long-poll timeout, seconds (0-90).")
def command(timeout: int) -> int:
    """Consume the owner's Events API feed continuously (long-poll), landing each answer with its cursor
    in one transaction; it and the every-minute `events` schedule never read the feed at once. Ctrl-C or
    SIGTERM stop it cleanly."""
    import threading

    from mhc_pipeline.defs.events import client as events

    settings.prepare_env()
    url = runtime.ensure_database()
    res = events.EventsResource(url=settings.get("MHC_EVENTS_URL"), username=settings.get("MHC_OWNER"),
                                token=settings.get("MHC_EVENTS_TOKEN"),
                                max_per_minute=int(settings.get("MHC_EVENTS_MAX_PER_MINUTE")))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"events worker: {res.feed()} (long-poll {timeout}s); Ctrl-C stops", flush=True)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            events.run_worker(url, res, poll_timeout=timeout, schema=settings.get("MHC_RAW_SCHEMA"),
                              stop=stop, log=lambda m: print(m, flush=True))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            failure.append(exc)
        finally:
            stop.set()

    # The worker waits in a long poll (up to --timeout s): it runs in its own thread, so that a stop
    # request ends this command within ~1.5 s. Every answer lands in one transaction with its cursor, so
    # leaving a poll unanswered loses nothing: the next start asks again from the stored cursor.
    worker = threading.Thread(target=work, name="events-worker", daemon=True)
    worker.start()
    while not stop.wait(0.5):
        pass
    worker.join(1.5)
    if failure and isinstance(failure[0], events.EventsAuthError):
        print(f"error: {failure[0]}", file=sys.stderr)
        return 3
    if failure:
        raise failure[0]
    print("events worker stopped" + ("" if not worker.is_alive() else " (its open long poll is dropped; the "
                                     "stored cursor is where the next start goes on)"), flush=True)
    return 0
