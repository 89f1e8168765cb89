"""Top-up bonus tiers per site (issue 13): each site's top-ups apply its own tiers, a site
without its own list applies the coalition's default list (the one global list of before), and a
manager of one site cannot change another's. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from clients import api_client
from test_end_to_end import SITE, RawDevice
from test_kiosk_topup import ask

from hub.api.app import create_app
from hub.loyalty import outlets
from hub.wallets import cards as wallets
from hub.wallets import topup_bonus
from protocol import topics

V1 = "/api/v1"
# Who may do what, and bad input: the same on both databases, so checked on SQLite alone.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def app(engine):
    return create_app(engine)


@pytest.fixture
def api(app):
    with api_client(app) as client:
        for site in ("north", "south", "east"):
            assert client.post(f"{V1}/sites", json={"id": site}).status_code == 201
            outlet = {"id": f"{site}-bar", "site_id": site, "kind": "bar"}
            assert client.post(f"{V1}/outlets", json=outlet).status_code == 201
            till = client.post(f"{V1}/outlets/{site}-bar/counters", json={"id": f"{site}-till"})
            assert till.status_code == 201
        yield client
        for sums in client.get(f"{V1}/ledgers").json().values():
            assert sums == {"posted": 0, "pending": 0}


def card(api, uid):
    assert api.post(f"{V1}/cards", json={"uid": uid}).status_code == 201
    return uid


def bonus(api, uid, amount=10_000, **where):
    r = api.post(f"{V1}/cards/{uid}/topups", json={"amount": amount, **where})
    assert r.status_code == 201, r.text
    return r.json()["bonus"]


def test_each_site_applies_its_own_tiers_and_a_site_without_them_the_default(api):
    assert api.put(f"{V1}/topup-tiers", json=[{"min_amount": 0, "percent": 1}]).status_code == 200
    north = api.put(f"{V1}/sites/north/topup-tiers", json=[{"min_amount": 5000, "percent": 5}])
    south = api.put(
        f"{V1}/sites/south/topup-tiers",
        json=[{"min_amount": 2000, "percent": "2.5"}, {"min_amount": 10_000, "percent": 10}],
    )
    assert north.status_code == south.status_code == 200
    assert north.json() == {"site_id": "north", "own": True, "tiers": [{"min_amount": 5000, "percent": "5"}]}
    uid = card(api, "5A5B5C5D")
    # The same 100.00 top-up, at three sites' cash desks.
    assert bonus(api, uid, counter_id="north-till") == 500
    assert bonus(api, uid, outlet_id="south-bar") == 1000
    assert bonus(api, uid, outlet_id="east-bar") == 100  # east has no list: the default
    assert bonus(api, uid) == 100  # an admin naming no place: the default
    assert bonus(api, uid, 4000, counter_id="south-till") == 100  # 2.5 % of 40.00
    assert bonus(api, uid, 4000, counter_id="north-till") == 0  # below north's first tier
    # Setting south's again leaves north's and the default as they were.
    api.put(f"{V1}/sites/south/topup-tiers", json=[{"min_amount": 0, "percent": 3}])
    assert api.get(f"{V1}/sites/north/topup-tiers").json()["tiers"] == [{"min_amount": 5000, "percent": "5"}]
    assert api.get(f"{V1}/topup-tiers").json() == [{"min_amount": 0, "percent": "1"}]
    assert api.get(f"{V1}/sites/east/topup-tiers").json() == {
        "site_id": "east",
        "own": False,
        "tiers": [{"min_amount": 0, "percent": "1"}],
    }


@sqlite_only
def test_a_cashier_key_gets_its_outlets_sites_tiers_without_naming_it(app, api):
    api.put(f"{V1}/sites/north/topup-tiers", json=[{"min_amount": 0, "percent": 7}])
    api.put(f"{V1}/sites/south/topup-tiers", json=[{"min_amount": 0, "percent": 4}])
    uid = card(api, "6A6B6C6D")
    with api_client(app, "cashier", outlet_id="north-bar") as north_till:
        assert bonus(north_till, uid, 1000) == 70
        refused = north_till.post(f"{V1}/cards/{uid}/topups", json={"amount": 1000, "outlet_id": "south-bar"})
        assert refused.status_code == 403
    with api_client(app, "kiosk", site_id="south") as south_kiosk_key:
        assert bonus(south_kiosk_key, uid, 1000) == 40


@sqlite_only
def test_the_old_put_changes_only_the_default_and_a_site_can_go_back_to_it(api):
    api.put(f"{V1}/sites/north/topup-tiers", json=[{"min_amount": 0, "percent": 5}])
    api.put(f"{V1}/topup-tiers", json=[{"min_amount": 0, "percent": 20}])  # a careless integrator
    uid = card(api, "7A7B7C7D")
    assert bonus(api, uid, 1000, outlet_id="north-bar") == 50
    assert bonus(api, uid, 1000, outlet_id="south-bar") == 200
    back = api.delete(f"{V1}/sites/north/topup-tiers")
    assert back.status_code == 200
    assert back.json() == {"site_id": "north", "own": False, "tiers": [{"min_amount": 0, "percent": "20"}]}
    assert bonus(api, uid, 1000, outlet_id="north-bar") == 200
    # An empty list of its own: no bonus at the site, whatever the default gives.
    empty = api.put(f"{V1}/sites/north/topup-tiers", json=[])
    assert empty.json() == {"site_id": "north", "own": True, "tiers": []}
    assert bonus(api, uid, 1000, outlet_id="north-bar") == 0


@sqlite_only
def test_a_manager_of_one_site_changes_its_tiers_only(app, api):
    with api_client(app, "manager", site_id="north") as manager:
        mine = manager.put(f"{V1}/sites/north/topup-tiers", json=[{"min_amount": 0, "percent": 5}])
        assert mine.status_code == 200
        assert manager.put(f"{V1}/sites/south/topup-tiers", json=[]).status_code == 403
        assert manager.delete(f"{V1}/sites/south/topup-tiers").status_code == 403
        assert manager.get(f"{V1}/sites/south/topup-tiers").status_code == 403
        assert manager.put(f"{V1}/topup-tiers", json=[{"min_amount": 0, "percent": 50}]).status_code == 403
    with api_client(app, "cashier", outlet_id="north-bar") as cashier:  # no loyalty.write
        assert cashier.put(f"{V1}/sites/north/topup-tiers", json=[]).status_code == 403
    assert api.get(f"{V1}/sites/south/topup-tiers").json()["own"] is False
    assert api.get(f"{V1}/topup-tiers").json() == []


@sqlite_only
def test_bad_places_and_tiers_are_refused_clearly(api):
    uid = card(api, "8A8B8C8D")
    assert api.put(f"{V1}/sites/nowhere/topup-tiers", json=[]).status_code == 404
    assert api.get(f"{V1}/sites/nowhere/topup-tiers").status_code == 404
    bad = [{"min_amount": 100, "percent": 5}, {"min_amount": 100, "percent": 6}]
    assert api.put(f"{V1}/sites/north/topup-tiers", json=bad).status_code == 422
    assert (
        api.put(f"{V1}/sites/north/topup-tiers", json=[{"min_amount": 0, "percent": 101}]).status_code == 422
    )
    for where, status in (
        ({"outlet_id": "no-bar"}, 404),
        ({"counter_id": "no-till"}, 404),
        ({"outlet_id": "north-bar", "counter_id": "south-till"}, 422),
    ):
        r = api.post(f"{V1}/cards/{uid}/topups", json={"amount": 1000, **where})
        assert r.status_code == status, (where, r.text)
    assert api.get(f"{V1}/cards/{uid}").json()["balance"] == 0


@sqlite_only
async def test_a_kiosk_applies_the_tiers_of_its_site(hub):
    with hub.engine.begin() as conn:
        outlets.create_site(conn, SITE)
        topup_bonus.set_tiers(conn, "CHF", [{"min_amount": 0, "percent": 5}])
        topup_bonus.set_tiers(conn, "CHF", [{"min_amount": 0, "percent": 20}], site_id=SITE)
        uid = wallets.issue_card(conn, "CHF")["uid"]
    async with RawDevice(hub, kind="kiosk") as kiosk:
        ack = await ask(kiosk, topics.TOPUP, {"id": "1-1", "ev": "1-1", "card": uid, "amount": 1000})
    assert (ack["posted"], ack["bonus"], ack["balance"]) == (1000, 200, 1200)


def test_each_site_switches_the_bonus_system_at_its_own_outlets_only(app, api):
    for site in ("north", "south"):
        api.post(f"{V1}/outlets", json={"id": f"{site}-shop", "site_id": site})
    with (
        api_client(app, "manager", site_id="north") as north,
        api_client(app, "manager", site_id="south") as south,
    ):
        out = [None, None]

        def put(i, client, site, stores):
            out[i] = client.put(f"{V1}/sites/{site}/bonus-stores", json={"enabled_stores": stores})

        threads = [
            threading.Thread(target=put, args=(0, north, "north", ["north-bar", "north-shop"])),
            threading.Thread(target=put, args=(1, south, "south", ["south-shop"])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in out] == [200, 200], [r.text for r in out]
        assert out[1].json() == {
            "site_id": "south",
            "outlets": ["south-bar", "south-shop"],
            "enabled_stores": ["south-shop"],
        }
        both = ["north-bar", "north-shop", "south-shop"]
        assert api.get(f"{V1}/bonus-settings").json()["enabled_stores"] == both
        off = north.put(f"{V1}/sites/north/bonus-stores", json={"enabled_stores": ["north-shop"]})
        assert off.json()["enabled_stores"] == ["north-shop"]
        assert api.get(f"{V1}/bonus-settings").json()["enabled_stores"] == ["north-shop", "south-shop"]
        assert north.put(f"{V1}/sites/south/bonus-stores", json={"enabled_stores": []}).status_code == 403
        assert north.put(f"{V1}/bonus-settings", json={"enabled_stores": []}).status_code == 403
        for stores, status in ((["south-bar"], 422), (["no-such"], 422)):
            r = north.put(f"{V1}/sites/north/bonus-stores", json={"enabled_stores": stores})
            assert r.status_code == status, r.text
    assert api.get(f"{V1}/sites/nowhere/bonus-stores").status_code == 404
    assert api.get(f"{V1}/sites/south/bonus-stores").json()["enabled_stores"] == ["south-shop"]
