# The controller's journal on flash: a grant is journaled before the relay
# moves, a power cut mid-delivery is reported at the next boot, offline vends
# within their limits are journaled and replayed, SUN data goes with the tap.
# Runs under CPython (pytest) and under the real MicroPython interpreter, hence:
# no fixtures, no pytest import, no tempfile.
import json

from test_controller import Rig, grant_all, silent, until

from firmware import config, controller, offline
from firmware.hal import sleep_ms
from protocol import messages, topics

SUN = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086"}


def settings(kind="dispenser", **fields):
    profile = config.profile_defaults(kind)
    profile.update(
        {"cooldown_ms": 0, "reply_timeout_ms": 300, "retries": 0, "units": 1, "pulse_ms": 10, "gap_ms": 5}
    )
    profile.update(fields)
    return profile


def on_flash(rig):
    with open(rig.flash + "/reports.json") as f:
        return json.loads(f.read())


def relay_on(rig):
    return rig.board.relays[0].value()


def offline_reports(rig):
    """{off id: report body} of the offline vends the hub received (repeats merged)."""
    out = {}
    for body in rig.hub.reports():
        if "off" in body:
            out[body["off"]] = body
    return out


# --- journal before actuating -------------------------------------------------------


async def test_grant_is_on_flash_before_the_relay_moves():
    rig = Rig(grant_all, base=settings(units=3, pulse_ms=30))
    rig.ctl.report_retry_ms = 20
    seen = []
    relay = rig.board.relays[0]
    switch_on = relay.on

    def on():  # what the flash holds at the instant the relay closes
        seen.append(on_flash(rig))
        switch_on()

    relay.on = on
    rig.start()
    try:
        await rig.tap_and_wait("04A1B2C3")
        hold = "h-" + rig.hub.taps()[0]["id"]
        first = seen[0]
        assert [(e["k"], e["body"], e["units"], e["open"]) for e in first] == [
            (topics.REPORT, {"hold": hold, "delivered": 0}, 3, True)
        ]
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        assert on_flash(rig) == []
    finally:
        await rig.stop()


async def test_a_grant_costs_three_journal_writes_not_one_per_pulse():
    writes = []
    real = controller.write_atomic

    def counting(path, text):
        writes.append(path)
        real(path, text)

    rig = Rig(grant_all, base=settings(units=5))
    controller.write_atomic = counting
    try:
        rig.start()
        await rig.tap_and_wait("04A1B2C3")
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        assert rig.board.pulses() == 5
        # Before the relay, after the delivery, after the hub's ack.
        assert len(writes) == 3, writes
    finally:
        controller.write_atomic = real
        await rig.stop()


async def test_power_cut_mid_delivery_is_reported_at_boot_as_the_journal_says():
    rig = Rig(
        lambda kind, body, seen: grant_all(kind, body, seen) if kind == topics.TAP else None,
        base=settings(units=4, pulse_ms=100),
    )
    rig.start()
    rig.board.reader.inject("04A1B2C3")
    assert await until(lambda: relay_on(rig))
    await rig.stop(clean=False)  # the power goes with the relay on
    rig.board.power_off()
    hold = "h-" + rig.hub.taps()[0]["id"]
    assert [e["body"] for e in on_flash(rig)] == [{"hold": hold, "delivered": 0}]

    again = Rig(grant_all, flash=rig.flash, base=rig.profile)
    again.ctl.report_retry_ms = 20
    assert again.ctl.pending_reports() == 1
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        [report] = again.hub.reports()
        assert (report["hold"], report["delivered"]) == (hold, 0)
        assert report["id"].startswith("2.")  # the next boot resolved it
        assert again.board.timeline == []
    finally:
        await again.stop()


async def test_journal_of_firmware_0_1_is_still_sent():
    rig = Rig(grant_all, base=settings())
    await rig.stop(clean=False)
    with open(rig.flash + "/reports.json", "w") as f:
        f.write(json.dumps([{"hold": "h-old", "delivered": 2}]))
    again = Rig(grant_all, flash=rig.flash, base=rig.profile)
    again.ctl.report_retry_ms = 20
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        assert [(r["hold"], r["delivered"]) for r in again.hub.reports()] == [("h-old", 2)]
    finally:
        await again.stop()


# --- SUN data --------------------------------------------------------------------------


async def test_sun_data_of_the_card_goes_with_its_tap_only():
    rig = Rig(grant_all, base=settings())
    rig.start()
    try:
        rig.board.reader.inject("04A1B2C3", SUN)
        await rig.tap_and_wait("04FFFFFF", 2)
        first, second = rig.hub.taps()
        assert first["sun"] == SUN and first["card"] == "04A1B2C3"
        assert "sun" not in second
    finally:
        await rig.stop()


# --- offline vends ---------------------------------------------------------------------


def offline_rig(**limits):
    fields = {"offline_units_card": 2, "offline_units_device": 3}
    fields.update(limits)
    rig = Rig(silent, base=settings(**fields))
    rig.ctl.report_retry_ms = 30
    return rig


async def test_no_offline_vend_unless_the_profile_allows_it():
    rig = Rig(silent, base=settings())
    rig.start()
    try:
        assert (await rig.tap_and_wait("04A1B2C3"))[1] == "timeout"
        assert rig.board.timeline == [] and rig.ctl.pending_reports() == 0
    finally:
        await rig.stop()


async def test_offline_vends_within_the_card_and_device_limits():
    rig = offline_rig()
    rig.start()
    try:
        outcomes = []
        for uid in ("04A1B2C3", "04A1B2C3", "04A1B2C3", "04BBBBBB", "04CCCCCC"):
            outcomes.append((await rig.tap_and_wait(uid))[1:3])
        assert outcomes == [
            ("offline", None),
            ("offline", None),
            ("deny", offline.LIMIT),
            ("offline", None),
            ("deny", offline.LIMIT),
        ]
        assert rig.board.pulses() == 3 and not relay_on(rig)
        journal = on_flash(rig)
        assert [(e["body"]["card"], e["body"]["delivered"]) for e in journal] == [
            ("04A1B2C3", 1),
            ("04A1B2C3", 1),
            ("04BBBBBB", 1),
        ]
        assert len(set(e["body"]["off"] for e in journal)) == 3
        assert rig.ctl.counters["offline"] == 3
    finally:
        await rig.stop()


async def test_offline_vends_are_replayed_once_the_hub_answers_and_the_limits_come_back():
    rig = offline_rig()
    rig.start()
    try:
        for uid in ("04A1B2C3", "04BBBBBB"):
            assert (await rig.tap_and_wait(uid))[1] == "offline"
        offs = [e["body"]["off"] for e in on_flash(rig)]
        rig.hub.policy = grant_all  # the hub is back
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 2)
        replayed = offline_reports(rig)
        assert sorted(replayed) == sorted(offs)
        for off in offs:
            body = replayed[off]
            assert body["delivered"] == 1 and body["id"] != off
            assert 0 <= body["ago"] < 60  # vended in this boot: its age is known
        assert rig.ctl.pending_reports() == 0 and on_flash(rig) == []
        # Booked by the hub: the next outage has the full limits again.
        rig.hub.policy = silent
        for uid in ("04A1B2C3", "04A1B2C3"):
            assert (await rig.tap_and_wait(uid))[1] == "offline"
    finally:
        await rig.stop()


async def test_offline_vend_replayed_after_a_reboot_has_no_age():
    rig = offline_rig()
    rig.start()
    assert (await rig.tap_and_wait("04A1B2C3"))[1] == "offline"
    await rig.stop(clean=False)
    again = Rig(grant_all, flash=rig.flash, base=rig.profile)
    again.ctl.report_retry_ms = 20
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        [body] = offline_reports(again).values()
        assert body["card"] == "04A1B2C3" and "ago" not in body
    finally:
        await again.stop()


async def test_deny_list_holds_offline():
    rig = offline_rig()
    rig.ctl.deny.add("04A1B2C3")
    rig.start()
    try:
        assert (await rig.tap_and_wait("04A1B2C3"))[1:3] == ("deny", messages.BLOCKED_CARD)
        assert rig.board.timeline == [] and on_flash(rig) == []
        assert rig.hub.taps() == []  # refused on the device, the hub was not even asked
    finally:
        await rig.stop()


async def test_full_journal_refuses_offline_vends():
    real = offline.MAX_EVENTS
    offline.MAX_EVENTS = 2
    rig = offline_rig(offline_units_card=5, offline_units_device=50)
    rig.start()
    try:
        outcomes = []
        for uid in ("04A1B2C3", "04BBBBBB", "04CCCCCC"):
            outcomes.append((await rig.tap_and_wait(uid))[1])
        assert outcomes == ["offline", "offline", "deny"]
        assert len(on_flash(rig)) == 2
        assert rig.board.pulses() == 2
    finally:
        offline.MAX_EVENTS = real
        await rig.stop()


async def test_offline_vend_cut_by_the_power_before_anything_came_out_is_dropped():
    rig = offline_rig()
    rig.profile["pulse_ms"] = 300
    rig.start()
    rig.board.reader.inject("04A1B2C3")
    assert await until(lambda: relay_on(rig))
    await rig.stop(clean=False)
    rig.board.power_off()
    [entry] = on_flash(rig)
    assert entry["open"] and entry["body"]["delivered"] == 0  # journaled before the relay moved
    again = Rig(grant_all, flash=rig.flash, base=rig.profile)
    again.start()
    try:
        await sleep_ms(100)
        assert again.ctl.pending_reports() == 0 and offline_reports(again) == {}
    finally:
        await again.stop()


async def test_offline_turnstile_passage_not_taken_is_not_journaled():
    rig = Rig(
        silent, base=settings("turnstile", pass_timeout_ms=100, offline_units_card=1, offline_units_device=1)
    )
    rig.start()
    try:
        assert (await rig.tap_and_wait("04A1B2C3"))[1] == "offline"
        assert rig.ctl.pending_reports() == 0  # nobody passed: nothing to book
        assert not relay_on(rig)
        assert (await rig.tap_and_wait("04A1B2C3"))[1] == "offline"  # the limit was not used up
    finally:
        await rig.stop()
