# Commands from the hub (firmware/commands.py) and the deny list, with the
# controller and link on the simulated board and an in-memory MQTT client.
# Runs under CPython (pytest) and under the real MicroPython interpreter,
# hence: no fixtures, no pytest import, no tempfile.
import json

from test_controller import DEVICE, KEY, OTHER_KEY, SITE, Rig, grant_all, until

from firmware import commands
from firmware.hal import sleep_ms
from protocol import ProtocolError, manage, messages, topics
from protocol.signing import Signer

CMD_TOPIC = topics.down(SITE, DEVICE, topics.CMD)
PROVISION = {
    "device": DEVICE,
    "site": SITE,
    "key": KEY,
    "broker": "mqtt://127.0.0.1:1883",
    "wifi": {"ssid": "x", "password": ""},
}


class FakeApp:
    """What firmware.commands uses of firmware.app.App."""

    def __init__(self, rig):
        self.link = rig.link
        self.board = rig.board
        self.controller = rig.ctl
        self.client = rig.client
        self.cfg = self
        self.profile = rig.profile
        with open(rig.flash + "/provision.json", "w") as f:
            f.write(json.dumps(dict(PROVISION, profile=rig.profile)))


def command(body, key=KEY):
    return Signer(key).seal(CMD_TOPIC, messages.encode(body))


def acks(rig):
    out = []
    for topic, payload, _qos in rig.client.published:
        if topic.endswith("/cmdack"):
            out.append(json.loads(payload[:-65]))
    return out


def setup():
    rig = Rig(grant_all)
    app = FakeApp(rig)
    rig.link.on_command = lambda topic, payload: commands.on_message(app, topic, payload)
    rig.hub.on_publish = lambda topic, payload: None  # acks need no answer
    return rig, app


async def test_config_changes_the_running_profile_and_the_provisioning_file():
    rig, app = setup()
    try:
        rig.link.on_message(CMD_TOPIC, command({"seq": 1, "k": "config", "set": {"pulse_ms": 70}}), False)
        assert rig.profile["pulse_ms"] == 70 and rig.machine.profile["pulse_ms"] == 70
        with open(rig.flash + "/provision.json") as f:
            assert json.loads(f.read())["profile"]["pulse_ms"] == 70
        assert commands.last_seq(rig.flash) == 1
        assert await until(lambda: acks(rig) == [{"seq": 1, "ok": True}])
    finally:
        await rig.stop()


async def test_bad_config_is_refused_and_changes_nothing():
    rig, app = setup()
    try:
        for seq, changes in ((1, {"pulse_ms": 0}), (2, {"kind": "billiard"}), (3, {"nope": 1})):
            rig.link.on_message(CMD_TOPIC, command({"seq": seq, "k": "config", "set": changes}), False)
        assert rig.profile["pulse_ms"] == 20
        assert await until(lambda: len(acks(rig)) == 3)
        assert [(a["ok"], a["code"]) for a in acks(rig)] == [(False, manage.BAD_CONFIG)] * 3
    finally:
        await rig.stop()


async def test_replayed_retained_forged_and_foreign_commands_are_ignored():
    rig, app = setup()
    try:
        good = command({"seq": 5, "k": "config", "set": {"pulse_ms": 70}})
        rig.link.on_message(CMD_TOPIC, good, True)  # retained
        assert rig.profile["pulse_ms"] == 20 and rig.link.ignored == 1
        rig.link.on_message(CMD_TOPIC, good, False)
        assert rig.profile["pulse_ms"] == 70
        rig.link.on_message(CMD_TOPIC, good, False)  # replayed
        rig.link.on_message(CMD_TOPIC, command({"seq": 4, "k": "config", "set": {"pulse_ms": 90}}), False)
        assert rig.link.ignored == 3
        rig.link.on_message(
            CMD_TOPIC, command({"seq": 9, "k": "config", "set": {"pulse_ms": 90}}, OTHER_KEY), False
        )
        rig.link.on_message(CMD_TOPIC, command({"seq": 9, "k": "launch"}), False)
        assert rig.link.invalid == 2
        other = topics.down(SITE, "other", topics.CMD)
        rig.link.on_message(
            other,
            Signer(KEY).seal(other, messages.encode({"seq": 9, "k": "config", "set": {"pulse_ms": 90}})),
            False,
        )
        assert rig.link.ignored == 4
        assert rig.profile["pulse_ms"] == 70
    finally:
        await rig.stop()


async def test_denied_card_is_refused_without_asking_and_the_list_survives_a_restart():
    rig, app = setup()
    rig.start()
    try:
        rig.link.on_message(
            CMD_TOPIC, command({"seq": 1, "k": "deny", "add": ["04A1B2C3", "04BBBBBB"]}), False
        )
        rig.link.on_message(CMD_TOPIC, command({"seq": 2, "k": "deny", "remove": ["04BBBBBB"]}), False)
        assert set(rig.ctl.deny) == set(["04A1B2C3"])
        result = await rig.tap_and_wait("04A1B2C3")
        assert result[1:3] == ("deny", messages.BLOCKED_CARD)
        assert rig.hub.taps() == [] and rig.board.timeline == []
    finally:
        await rig.stop(clean=False)
    again = Rig(grant_all, flash=rig.flash)
    again.start()
    try:
        assert set(again.ctl.deny) == set(["04A1B2C3"])
        assert (await again.tap_and_wait("04A1B2C3"))[1:3] == ("deny", messages.BLOCKED_CARD)
        assert (await again.tap_and_wait("04BBBBBB"))[1] == "grant"
    finally:
        await again.stop()


async def test_the_app_loads_the_commands_for_each_command_and_drops_them_after():
    # App.on_command: on MicroPython firmware/commands.py and protocol.manage leave the
    # heap once a command is applied, and load again for the next one.
    import sys

    from firmware.app import App

    rig, app = setup()
    app.ota = None
    rig.link.on_command = lambda topic, payload: App.on_command(app, topic, payload)
    rig.start()
    try:
        rig.link.on_message(CMD_TOPIC, command({"seq": 1, "k": "deny", "add": ["04A1B2C3"]}), False)
        assert set(rig.ctl.deny) == set(["04A1B2C3"])
        dropped = sys.implementation.name == "micropython"
        assert dropped == ("firmware.commands" not in sys.modules) == ("protocol.manage" not in sys.modules)
        rig.link.on_message(CMD_TOPIC, command({"seq": 2, "k": "deny", "add": ["04BBBBBB"]}), False)
        assert set(rig.ctl.deny) == set(["04A1B2C3", "04BBBBBB"])
        assert dropped == ("firmware.commands" not in sys.modules)
        assert await until(lambda: len(acks(rig)) == 2)
        assert [a["ok"] for a in acks(rig)] == [True, True]
    finally:
        await rig.stop()


async def test_deny_list_is_bounded_and_clear_starts_afresh():
    rig, app = setup()
    try:
        deny = rig.ctl.deny
        for i in range(manage.MAX_DENY // 32):
            cards = ["C%03d%04d" % (i, n) for n in range(32)]
            commands.update_deny(deny, rig.flash, {"add": cards})
        assert len(deny) == manage.MAX_DENY
        try:
            commands.update_deny(deny, rig.flash, {"add": ["CFFFFFFF"]})
            raise AssertionError("no refusal")
        except ProtocolError as err:
            assert err.code == manage.DENY_FULL
        assert len(deny) == manage.MAX_DENY
        commands.update_deny(deny, rig.flash, {"clear": True, "add": ["CFFFFFFF"]})
        assert set(deny) == set(["CFFFFFFF"])
    finally:
        await rig.stop()


async def test_reboot_is_acked_first_then_the_board_reboots_with_relays_off():
    rig, app = setup()
    order = []
    rig.board.on_reboot = lambda: order.append(("reboot", len(acks(rig)), rig.board.relays[0].value()))
    try:
        rig.board.relays[0].on()
        rig.link.on_message(CMD_TOPIC, command({"seq": 3, "k": "reboot"}), False)
        assert commands.last_seq(rig.flash) == 3  # kept before rebooting: never a reboot loop
        assert await until(lambda: order)
        assert order == [("reboot", 1, False)]
        rig.link.on_message(CMD_TOPIC, command({"seq": 3, "k": "reboot"}), False)
        await sleep_ms(20)
        assert rig.board.reboots == 1
    finally:
        await rig.stop()


def test_command_bodies_are_checked_precisely():
    def code(body):
        try:
            manage.decode(topics.CMD, messages.encode(body))
        except ProtocolError as err:
            return err.code, err.detail
        return None

    assert code({"seq": 1, "k": "reboot"}) is None
    assert code({"k": "reboot"}) == ("bad_field", "missing seq")
    assert code({"seq": 0, "k": "reboot"}) == ("bad_field", "seq out of range")
    assert code({"seq": True, "k": "reboot"}) == ("bad_field", "seq must be an integer")
    assert code({"seq": 1, "k": "launch"}) == ("bad_field", "k")
    assert code({"seq": 1, "k": "config", "set": {}}) == ("bad_field", "set size")
    assert code({"seq": 1, "k": "config", "set": {"a": [1]}}) == ("bad_field", "set.a")
    assert code({"seq": 1, "k": "deny", "add": "04A1B2C3"}) == ("bad_field", "add must be a list")
    assert code({"seq": 1, "k": "deny", "remove": ["x"]}) == ("bad_field", "remove length")
    assert code({"seq": 1, "k": "deny", "add": ["04A1B2C3"] * 33})[0] == "too_large"
    assert code({"seq": 1, "k": "deny", "clear": 1}) == ("bad_field", "clear")
