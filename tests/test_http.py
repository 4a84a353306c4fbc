"""The one HTTP layer, against the simulator over real HTTP: retries, Retry-After, rate limit, redaction."""

from __future__ import annotations

import logging
import time

import pytest

from mhc_pipeline.http import AuthError, BadResponse, HttpClient, RateLimiter, SourceError, redact, register_secret

PATH = "/api/public/affiliates/onlinerooms/"
PARAMS = {"wm": "SIMWM", "client_ip": "request_ip", "limit": 5, "offset": 0}


def _client(**kw) -> HttpClient:
    kw.setdefault("backoff_factor", 0.05)
    return HttpClient("test", **kw)


def test_429_with_retry_after_is_retried_after_the_wait(fresh_sim):
    fresh_sim.inject(PATH, "status", status=429, retry_after=1)
    started = time.monotonic()
    fetched = _client().get_json(fresh_sim.url + PATH, params=PARAMS)
    assert fetched.status == 200 and fetched.retries == 1
    assert time.monotonic() - started >= 0.95  # Retry-After honoured
    assert len(fetched.data["results"]) == 5


def test_503_and_cloudflare_520_are_retried_with_backoff(fresh_sim):
    fresh_sim.inject(PATH, "status", status=503)
    fresh_sim.inject(PATH, "status", status=520)
    fetched = _client().get_json(fresh_sim.url + PATH, params=PARAMS)
    assert fetched.status == 200 and fetched.retries == 2


def test_a_slow_answer_times_out_and_is_retried(fresh_sim):
    fresh_sim.inject(PATH, "slow", delay=2.0)
    fetched = _client(timeout=0.5).get_json(fresh_sim.url + PATH, params=PARAMS)
    assert fetched.status == 200 and fetched.retries == 1


def test_exhausted_retries_raise_a_redacted_error(fresh_sim):
    register_secret("tok_SUPERSECRET_42")
    fresh_sim.inject(PATH, "status", status=503, count=10)
    with pytest.raises(SourceError) as info:
        _client(retries=2).get_json(fresh_sim.url + PATH, params={**PARAMS, "token": "tok_SUPERSECRET_42"})
    assert info.value.status == 503
    assert "tok_SUPERSECRET_42" not in str(info.value) and "token=***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # no chained requests error


def test_html_instead_of_json_is_a_bad_response_with_the_body(fresh_sim):
    fresh_sim.inject(PATH, "html")
    with pytest.raises(BadResponse) as info:
        _client().get_json(fresh_sim.url + PATH, params=PARAMS)
    assert "HTML page" in str(info.value) and "Just a moment" in info.value.body


def test_malformed_json_is_a_bad_response(fresh_sim):
    fresh_sim.inject(PATH, "malformed")
    with pytest.raises(BadResponse, match="malformed JSON"):
        _client().get_json(fresh_sim.url + PATH, params=PARAMS)


def test_401_is_an_auth_error_and_not_retried(fresh_sim):
    fresh_sim.inject(PATH, "status", status=401)
    fresh_sim.reset_requests()
    with pytest.raises(AuthError):
        _client().get_json(fresh_sim.url + PATH, params=PARAMS)
    assert len(fresh_sim.requests) == 1


def test_connection_refused_names_the_source_without_the_secret():
    register_secret("ANOTHER_SECRET_TOKEN")
    with pytest.raises(SourceError) as info:
        _client(retries=1).get_json("http://127.0.0.1:9/events/owner/ANOTHER_SECRET_TOKEN/")
    text = str(info.value)
    assert text.startswith("test: connection failed") and "ANOTHER_SECRET_TOKEN" not in text


def test_rate_limit_spaces_requests_including_retries(fresh_sim):
    client = _client(max_rps=5.0, limiter=RateLimiter(5.0))
    fresh_sim.inject(PATH, "status", status=503)
    fresh_sim.reset_requests()
    for _ in range(3):
        client.get_json(fresh_sim.url + PATH, params=PARAMS)
    times = sorted(r["mono"] if isinstance(r, dict) else r.mono for r in fresh_sim.requests)
    assert len(times) == 4  # 3 requests + 1 retry
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.18, gaps


def test_redaction_patterns():
    assert redact("https://eventsapi.chaturbate.com/events/owner/AbCdEf123456/?i=1-0&timeout=10") == (
        "https://eventsapi.chaturbate.com/events/owner/***/?i=1-0&timeout=10"
    )
    assert redact("https://chaturbate.com/statsapi/?username=o&token=abc123") == (
        "https://chaturbate.com/statsapi/?username=o&token=***"
    )
    assert redact("postgresql://u:pw123@host/db") == "postgresql://u:***@host/db"
    assert redact("Authorization: Bearer 12|abcdef") == "Authorization: Bearer ***"


def test_the_logging_filter_redacts_records(caplog):
    from mhc_pipeline.http import RedactingFilter

    register_secret("LOGGED_SECRET_VALUE")
    logger = logging.getLogger("mhc.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="mhc.test"):
        logger.info("calling %s", "http://x/events/owner/LOGGED_SECRET_VALUE/")
    assert "LOGGED_SECRET_VALUE" not in caplog.text
