"""API keys across hubs on one database: a key revoked through one hub is refused by another from
the very next request (keys are read on every request, not cached), and a key's rate per minute
holds over all hubs together, not per hub (each shares its counts every second)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from clients import api_client, make_key
from fastapi.testclient import TestClient

from hub.access.limits import HUB_SILENT_AFTER, RateLimiter
from hub.api.app import create_app
from hub.core.clock import utcnow
from hub.core.errors import TooMany
from hub.migrations import open_database

V1 = "/api/v1"


def test_a_key_revoked_on_one_hub_is_refused_by_the_other_at_the_next_request(pg_url):
    one, other = open_database(pg_url), open_database(pg_url)
    try:
        till_key = make_key(one, "cashier")
        till = TestClient(create_app(other), headers={"X-API-Key": till_key})
        assert till.get(f"{V1}/cards/NOCARD").status_code == 404  # known key, unknown card
        with api_client(create_app(one)) as admin:
            revoked = admin.post(f"{V1}/api-keys/{till_key.split('.')[0]}/revoke")
            assert revoked.status_code == 200, revoked.text
        refused = till.get(f"{V1}/cards/NOCARD")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    finally:
        one.dispose()
        other.dispose()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_keys_rate_holds_over_two_hubs_together(engine):
    clock = Clock()
    one, other = RateLimiter(clock), RateLimiter(clock)
    for _ in range(6):
        one.check("tk_till", 10)
    for _ in range(4):
        other.check("tk_till", 10)
    now = utcnow()
    for hub in (one, other, one):
        hub.share(engine, now)
    for hub in (one, other):  # 6 + 4 requests in the minute: the eleventh is refused by either
        with pytest.raises(TooMany) as refused:
            hub.check("tk_till", 10)
        assert refused.value.retry_after >= 1
    other.check("tk_other", 10)  # another key is not held back by this one's rate
    clock.now += 61  # a minute later both hubs' requests have left the window
    for hub in (one, other, one):
        hub.share(engine, now + dt.timedelta(seconds=61))
    one.check("tk_till", 10)


def test_a_stopped_hubs_counts_stop_holding_a_key_back(engine):
    clock = Clock()
    stopped, running = RateLimiter(clock), RateLimiter(clock)
    for _ in range(3):
        stopped.check("tk_till", 3)
    now = utcnow()
    stopped.share(engine, now)
    running.share(engine, now)
    with pytest.raises(TooMany):
        running.check("tk_till", 3)
    # The stopped hub writes no more: after HUB_SILENT_AFTER its counts no longer count.
    running.share(engine, now + HUB_SILENT_AFTER + dt.timedelta(seconds=1))
    running.check("tk_till", 3)


def test_requests_through_two_hubs_are_counted_against_one_rate(pg_url):
    one, other = open_database(pg_url), open_database(pg_url)
    try:
        key = make_key(one, "cashier", rate_per_minute=4)
        key_id = key.split(".")[0]
        apps = [create_app(one), create_app(other)]
        with (
            TestClient(apps[0], headers={"X-API-Key": key}) as a,
            TestClient(apps[1], headers={"X-API-Key": key}) as b,
        ):
            assert [c.get(f"{V1}/cards/NOCARD").status_code for c in (a, b, a, b)] == [404] * 4
            # Each hub has taken 2 of the 4; within a few of their shares (every second) each knows.
            deadline = time.monotonic() + 15
            while any(app.state.rate_limiter.elsewhere(key_id) < 2 for app in apps):
                assert time.monotonic() < deadline, "the hubs never shared their counts"
                time.sleep(0.1)
            for client in (a, b):
                refused = client.get(f"{V1}/cards/NOCARD")
                assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    finally:
        one.dispose()
        other.dispose()
