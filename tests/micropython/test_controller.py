# Controller (with the dispenser profile) + link logic against an in-memory MQTT client and the simulated
# board. Runs under CPython (pytest) and under the real MicroPython
# interpreter, hence: no fixtures, no pytest import, no tempfile.
import asyncio
import os
from random import getrandbits

from firmware import hal, profiles
from firmware.controller import Controller
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from firmware.hal_sim import SimBoard
from firmware.link import Link
from protocol import hub_side, messages, topics
from protocol.ids import RequestIds
from protocol.signing import Signer

KEY = "5a" * 32
OTHER_KEY = "a5" * 32
SITE = "park"
DEVICE = "disp-1"
REPLY_TOPIC = topics.down(SITE, DEVICE)
PROFILE = {
    "kind": "dispenser",
    "units": 3,
    "pulse_ms": 20,
    "gap_ms": 10,
    "cooldown_ms": 400,
    "reply_timeout_ms": 60,
    "retries": 1,
    "sensor_pulses": 0,
    "sensor_timeout_ms": 0,
}


def grant_all(kind, body, seen):
    if kind == topics.TAP:
        return {
            "k": "grant",
            "re": body["id"],
            "hold": "h-" + body["id"],
            "units": body["units"],
            "amount": 100 * body["units"],
        }
    return {"k": "ack", "re": body["id"], "posted": 100 * body["delivered"], "voided": 0}


def deny_all(kind, body, seen):
    return {"k": "deny", "re": body["id"], "code": messages.INSUFFICIENT_FUNDS, "balance": 0}


def silent(kind, body, seen):
    return None


class FakeHub:
    """Answers what the device publishes; `policy(kind, body, times id seen)` -> reply or None."""

    def __init__(self, client, policy, key=KEY, retain=False):
        self.client = client
        self.policy = policy
        self.signer = Signer(key)
        self.device_signer = Signer(KEY)
        self.retain = retain
        self.requests = []  # (kind, body) in arrival order
        self.sent = []  # reply payloads
        self._seen = {}

    def on_publish(self, topic, payload):
        kind = hub_side.parse(topic)[3]
        body = hub_side.decode(kind, self.device_signer.open(topic, payload))
        self.requests.append((kind, body))
        if kind == topics.STATUS:
            return
        rid = body["id"]
        self._seen[rid] = self._seen.get(rid, 0) + 1
        reply = self.policy(kind, body, self._seen[rid])
        if reply is not None:
            self.send(self.signer.seal(REPLY_TOPIC, messages.encode(reply)))

    def send(self, payload, retain=None):
        self.sent.append(payload)
        asyncio.create_task(self._deliver(payload, self.retain if retain is None else retain))

    async def _deliver(self, payload, retain):
        await sleep_ms(1)
        self.client.on_message(REPLY_TOPIC, payload, retain)

    def taps(self):
        return [body for kind, body in self.requests if kind == topics.TAP]

    def reports(self):
        return [body for kind, body in self.requests if kind == topics.REPORT]


class FakeClient:
    def __init__(self):
        self.on_message = None
        self.hub = None
        self.published = []  # (topic, payload, qos)
        self.subscriptions = []

    def is_connected(self):
        return True  # a silent hub is one that does not answer over a working link

    async def subscribe(self, topic, qos=1):
        self.subscriptions.append(topic)

    async def publish(self, topic, payload, qos=0, retain=False):
        self.published.append((topic, payload, qos))
        self.hub.on_publish(topic, payload)


class Rig:
    def __init__(self, policy=grant_all, hub_key=KEY, retain=False, flash=None, base=PROFILE, **profile):
        self.flash = flash or _flash_dir()
        self.profile = dict(base)
        self.profile.update(profile)
        self.board = SimBoard(self.flash)
        self.client = FakeClient()
        self.link = Link(
            Signer(KEY),
            RequestIds(self.flash + "/boots"),
            SITE,
            DEVICE,
            self.profile["reply_timeout_ms"],
            self.profile["retries"],
        )
        self.link.client = self.client
        self.client.on_message = self.link.on_message
        self.hub = FakeHub(self.client, policy, hub_key, retain)
        self.client.hub = self.hub
        self.results = []
        self.machine = profiles.make(self.board, self.profile)
        self.ctl = Controller(
            self.board, self.link, self.profile, self.machine, self.flash + "/reports.json", self._on_result
        )
        self.ctl.report_retry_ms = 20
        self.tasks = []

    def _on_result(self, card, outcome, code, rtt_ms):
        self.results.append((card, outcome, code, rtt_ms))

    def start(self):
        self.tasks = [asyncio.create_task(self.ctl.run()), asyncio.create_task(self.ctl.report_loop())]

    async def stop(self, clean=True):
        for t in self.tasks:
            t.cancel()
        await sleep_ms(5)
        if clean:
            _remove_dir(self.flash)

    async def tap_and_wait(self, card, results=None):
        want = len(self.results) + 1 if results is None else results
        self.board.reader.inject(card)
        assert await until(lambda: len(self.results) >= want), "no result for " + card
        return self.results[-1]


def _flash_dir():
    path = "/tmp/tapgift-ctl-%d" % getrandbits(30)
    os.mkdir(path)
    return path


def _remove_dir(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


async def until(condition, ms=2000):
    start = ticks_ms()
    while not condition():
        if ticks_diff(ticks_ms(), start) > ms:
            return False
        await sleep_ms(2)
    return True


def widths(timeline):
    """[(on ms, following off ms)] from a relay timeline of alternating on/off."""
    out = []
    for i in range(0, len(timeline) - 1, 2):
        assert timeline[i][2] and not timeline[i + 1][2]
        gap = ticks_diff(timeline[i + 2][0], timeline[i + 1][0]) if i + 2 < len(timeline) else None
        out.append((ticks_diff(timeline[i + 1][0], timeline[i][0]), gap))
    return out


async def test_grant_pulses_units_times_and_reports_delivered():
    rig = Rig()
    rig.start()
    try:
        card, outcome, code, rtt = await rig.tap_and_wait("04A1B2C3")
        assert (card, outcome, code) == ("04A1B2C3", "grant", None)
        assert 0 <= rtt < PROFILE["reply_timeout_ms"]
        assert rig.board.pulses() == 3
        for on_ms, gap_ms in widths(rig.board.timeline):
            assert 19 <= on_ms <= 60, on_ms
            assert gap_ms is None or 9 <= gap_ms <= 50, gap_ms
        assert not rig.board.relays[0].value()
        assert rig.board.indicator.signals == [hal.GRANT]
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        tap = rig.hub.taps()[0]
        assert tap["card"] == "04A1B2C3" and tap["units"] == 3
        assert rig.hub.reports() == [
            {"id": rig.hub.reports()[0]["id"], "hold": "h-" + tap["id"], "delivered": 3}
        ]
        assert rig.ctl.pending_reports() == 0
    finally:
        await rig.stop()


async def test_grant_never_pulses_more_than_asked():
    def generous(kind, body, seen):
        reply = grant_all(kind, body, seen)
        if kind == topics.TAP:
            reply["units"] = 50
        return reply

    rig = Rig(generous, units=2)
    rig.start()
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert rig.board.pulses() == 2
    finally:
        await rig.stop()


async def test_deny_never_moves_relay():
    rig = Rig(deny_all)
    rig.start()
    try:
        result = await rig.tap_and_wait("04A1B2C3")
        assert result[1:3] == ("deny", messages.INSUFFICIENT_FUNDS)
        assert rig.board.timeline == []
        assert rig.board.indicator.signals == [hal.DENY]
        assert rig.ctl.counters["denied"] == 1
        await sleep_ms(50)
        assert rig.hub.reports() == []
    finally:
        await rig.stop()


async def test_cooldown_ignores_same_card():
    rig = Rig(deny_all)
    rig.start()
    try:
        await rig.tap_and_wait("04A1B2C3")
        rig.board.reader.inject("04A1B2C3")
        rig.board.reader.inject("04A1B2C3")
        await rig.tap_and_wait("04FFFFFF")
        assert [t["card"] for t in rig.hub.taps()] == ["04A1B2C3", "04FFFFFF"]
        assert rig.ctl.counters["double_reads"] == 2
        await sleep_ms(PROFILE["cooldown_ms"])
        await rig.tap_and_wait("04FFFFFF")
        assert len(rig.hub.taps()) == 3
    finally:
        await rig.stop()


async def test_no_reply_signals_timeout_and_relay_never_moves():
    rig = Rig(silent)
    rig.start()
    try:
        card, outcome, code, rtt = await rig.tap_and_wait("04A1B2C3")
        assert outcome == "timeout"
        timeout = PROFILE["reply_timeout_ms"] * (1 + PROFILE["retries"])
        assert timeout - 2 <= rtt < timeout + 100
        assert rig.board.timeline == []
        assert rig.board.indicator.signals == [hal.ERROR]
        assert rig.ctl.counters["timeouts"] == 1
    finally:
        await rig.stop()


async def test_repeat_after_timeout_reuses_the_same_id():
    def answer_second(kind, body, seen):
        return grant_all(kind, body, seen) if seen >= 2 else None

    rig = Rig(answer_second)
    rig.start()
    try:
        result = await rig.tap_and_wait("04A1B2C3")
        assert result[1] == "grant"
        taps = [p for p in rig.client.published if p[0].endswith("/tap")]
        assert len(taps) == 2
        assert taps[0] == taps[1]  # same topic, same payload (same id, same tag), QoS 1
        assert taps[0][2] == 1
        assert rig.board.pulses() == 3
    finally:
        await rig.stop()


async def test_retained_reply_is_ignored():
    rig = Rig(grant_all, retain=True)
    rig.start()
    try:
        result = await rig.tap_and_wait("04A1B2C3")
        assert result[1] == "timeout"
        assert rig.board.timeline == []
        assert rig.link.ignored >= 1
    finally:
        await rig.stop()


async def test_reply_with_wrong_tag_is_ignored():
    rig = Rig(grant_all, hub_key=OTHER_KEY)
    rig.start()
    try:
        result = await rig.tap_and_wait("04A1B2C3")
        assert result[1] == "timeout"
        assert rig.board.timeline == []
        assert rig.link.invalid == 1 + PROFILE["retries"]
    finally:
        await rig.stop()


async def test_recorded_grant_cannot_be_replayed():
    rig = Rig(grant_all)
    rig.start()
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert rig.board.pulses() == 3
        recorded = rig.hub.sent[0]

        def replay(kind, body, seen):
            if kind == topics.TAP:
                rig.hub.send(recorded)
                return None
            return grant_all(kind, body, seen)

        rig.hub.policy = replay
        result = await rig.tap_and_wait("04FFFFFF")
        assert result[1] == "timeout"
        assert rig.board.pulses() == 3
        assert rig.link.ignored >= 1
    finally:
        await rig.stop()


async def test_garbage_from_the_network_is_counted_not_fatal():
    rig = Rig(silent)
    good_body = messages.encode({"k": "ack", "re": "1-1", "posted": 0})
    for payload in (
        b"",
        b"x",
        b"{}#" + b"0" * 64,
        b"\xff" * 300,
        Signer(KEY).seal(REPLY_TOPIC, b"not json"),
        Signer(KEY).seal(REPLY_TOPIC, b'{"k": "grant", "re": "1-1"}'),
    ):
        rig.link.on_message(REPLY_TOPIC, payload, False)
    assert rig.link.invalid == 6
    rig.link.on_message("tg/park/other/dn/reply", Signer(KEY).seal(REPLY_TOPIC, good_body), False)
    assert rig.link.ignored == 1
    await rig.stop()


async def test_crash_during_pulses_leaves_relay_off():
    rig = Rig(grant_all, units=5, pulse_ms=200)
    rig.start()
    try:
        rig.board.reader.inject("04A1B2C3")
        assert await until(lambda: rig.board.relays[0].value())
        rig.tasks[0].cancel()
        await sleep_ms(5)
        assert not rig.board.relays[0].value()
        assert rig.board.pulses() == 1
    finally:
        await rig.stop()


async def test_report_retried_in_background_without_blocking_next_visitor():
    def slow_reports(kind, body, seen):
        if kind == topics.REPORT and len(rig.hub.reports()) <= 2:
            return None  # the first report request gets no answer at all
        return grant_all(kind, body, seen)

    rig = Rig(slow_reports)
    rig.start()
    try:
        await rig.tap_and_wait("04A1B2C3")
        await rig.tap_and_wait("04FFFFFF")
        assert rig.board.pulses() == 6
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 2)
        ids = [r["id"] for r in rig.hub.reports()]
        holds = [r["hold"] for r in rig.hub.reports()]
        assert len(ids) == 4 and ids[0] == ids[1] and ids[1] != ids[2]
        assert holds[0] == holds[2]  # the same report again, under a new request id
    finally:
        await rig.stop()


async def test_unacked_report_survives_a_restart():
    rig = Rig(lambda kind, body, seen: grant_all(kind, body, seen) if kind == topics.TAP else None)
    rig.start()
    await rig.tap_and_wait("04A1B2C3")
    assert await until(lambda: len(rig.hub.reports()) >= 1)
    await rig.stop(clean=False)
    assert rig.ctl.pending_reports() == 1

    again = Rig(grant_all, flash=rig.flash)
    assert again.ctl.pending_reports() == 1
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        report = again.hub.reports()[0]
        assert report["hold"] == rig.hub.reports()[0]["hold"] and report["delivered"] == 3
        assert report["id"].startswith("2.")  # sent by the next boot
    finally:
        await again.stop()


async def test_an_id_the_hub_saw_before_gets_a_fresh_nonce_and_one_more_try():
    """The hub refuses an id it answered for another request (ID_REUSED): the link draws a
    new nonce and asks again under a new id; the refusal never moves the relay."""
    refused = []

    def policy(kind, body, seen):
        if not refused:
            refused.append(body["id"])
            return {"k": "error", "re": body["id"], "code": messages.ID_REUSED}
        return grant_all(kind, body, seen)

    rig = Rig(policy)
    rig.start()
    try:
        card, outcome, code, _rtt = await rig.tap_and_wait("04A1B2C3")
        assert (outcome, code) == ("grant", None)
        first, second = [t["id"] for t in rig.hub.taps()]
        assert first == refused[0] and first.split("-")[0] != second.split("-")[0]
        assert second.endswith("-1") and rig.board.pulses() == 3
    finally:
        await rig.stop()


async def test_a_refusal_that_stays_is_a_deny_and_moves_nothing():
    def policy(kind, body, seen):
        return {"k": "error", "re": body["id"], "code": messages.ID_REUSED}

    rig = Rig(policy)
    rig.start()
    try:
        _card, outcome, code, _rtt = await rig.tap_and_wait("04A1B2C3")
        assert (outcome, code) == ("deny", messages.ID_REUSED)
        assert len(rig.hub.taps()) == 2 and rig.board.pulses() == 0
    finally:
        await rig.stop()
