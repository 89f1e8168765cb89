# Machine profiles (firmware/profiles) driven by the real controller, the
# simulated board and a fake hub. Runs under CPython (pytest) and under the
# real MicroPython interpreter, hence: no fixtures, no pytest import, no tempfile.
import asyncio
import sys

from esp32_fakes import restore_modules
from test_controller import Rig, grant_all, until, widths
from test_readers import FakeMachine

from firmware import config, hal
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from protocol import ProtocolError, hub_side, topics


def settings(kind, **fields):
    profile = config.profile_defaults(kind)
    profile.update({"cooldown_ms": 0, "reply_timeout_ms": 200, "retries": 0})
    profile.update(fields)
    return profile


def started(kind, **fields):
    rig = Rig(grant_all, base=settings(kind, **fields))
    rig.start()
    return rig


def delivered(rig):
    """[(hold, delivered)] of the reports the hub received, in order."""
    return [(r["hold"], r["delivered"]) for r in rig.hub.reports()]


def hold_of(rig, n):
    return "h-" + rig.hub.taps()[n]["id"]


async def acked(rig, n, ms=3000):
    assert await until(lambda: rig.ctl.counters["reports_acked"] >= n, ms), delivered(rig)


def relay_on(rig):
    return rig.board.relays[0].value()


def on_ms(rig):
    """How long the relay was on (one on/off pair in the timeline)."""
    [(width, _gap)] = widths(rig.board.timeline)
    return width


# --- dispenser with a flow/coin sensor ------------------------------------------


async def test_dispenser_sensor_confirms_fewer_units_than_granted():
    rig = started("dispenser", units=3, pulse_ms=10, gap_ms=10, sensor_pulses=2, sensor_timeout_ms=100)
    try:
        rig.board.reader.inject("04A1B2C3")
        assert await until(lambda: rig.board.timeline)
        rig.board.sensor.pulse(3)  # one and a half units' worth
        await acked(rig, 1)
        assert rig.board.pulses() == 3
        assert delivered(rig) == [(hold_of(rig, 0), 1)]
        assert not relay_on(rig)
    finally:
        await rig.stop()


async def test_dispenser_sensor_confirming_all_units_reports_at_once():
    rig = started("dispenser", units=2, pulse_ms=10, gap_ms=10, sensor_pulses=5, sensor_timeout_ms=5000)
    try:
        start = ticks_ms()
        rig.board.reader.inject("04A1B2C3")
        assert await until(lambda: rig.board.timeline)
        for _ in range(4):
            rig.board.sensor.pulse(3)
            await sleep_ms(5)
        await acked(rig, 1)
        assert ticks_diff(ticks_ms(), start) < 1000  # did not wait for the timeout
        assert delivered(rig) == [(hold_of(rig, 0), 2)]  # 12 pulses, never more than granted
    finally:
        await rig.stop()


async def test_dispenser_sensor_counts_only_pulses_after_the_grant():
    rig = started("dispenser", units=1, pulse_ms=10, sensor_pulses=1, sensor_timeout_ms=50)
    try:
        rig.board.sensor.pulse(5)
        await rig.tap_and_wait("04A1B2C3")
        await acked(rig, 1)
        assert delivered(rig) == [(hold_of(rig, 0), 0)]
    finally:
        await rig.stop()


# --- slot machine ------------------------------------------------------------------


async def test_slot_machine_gives_one_credit_pulse_per_unit():
    rig = started("slot_machine", units=4, pulse_ms=15, gap_ms=10)
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert rig.board.pulses() == 4
        for width, gap in widths(rig.board.timeline):
            assert 14 <= width <= 60, width
            assert gap is None or 9 <= gap <= 50, gap
        await acked(rig, 1)
        assert delivered(rig) == [(hold_of(rig, 0), 4)]
        assert rig.hub.taps()[0]["units"] == 4 and "dir" not in rig.hub.taps()[0]
    finally:
        await rig.stop()


async def test_slot_machine_crash_mid_credits_leaves_relay_off_and_reboot_reports_the_journal():
    rig = started("slot_machine", units=5, pulse_ms=200, gap_ms=10)
    rig.ctl.report_retry_ms = 10000  # the crash comes before the report could go
    rig.tasks[1].cancel()
    try:
        rig.board.reader.inject("04A1B2C3")
        assert await until(lambda: relay_on(rig))
        rig.tasks[0].cancel()
        await sleep_ms(5)
        assert not relay_on(rig)
        assert rig.ctl.pending_reports() == 1  # journaled before the relay moved
    finally:
        await rig.stop(clean=False)
    again = Rig(grant_all, flash=rig.flash, base=rig.profile)
    again.start()
    try:
        await acked(again, 1)
        # The journal said 0 delivered: the hub voids the hold now instead of letting it expire.
        assert delivered(again) == [(hold_of(rig, 0), 0)]
        assert again.board.pulses() == 0 and not relay_on(again)
    finally:
        await again.stop()


# --- turnstile ---------------------------------------------------------------------


async def test_turnstile_passage_confirms_the_grant_and_locks_again():
    rig = started("turnstile", direction="exit", pass_timeout_ms=2000)
    try:
        rig.board.reader.inject("04A1B2C3")
        assert await until(lambda: relay_on(rig))  # unlocked, waiting for the passage
        await sleep_ms(30)
        rig.board.sensor.pulse()
        await acked(rig, 1)
        assert rig.results[0][1] == "grant"
        assert not relay_on(rig)
        assert 25 <= on_ms(rig) < 500
        tap = rig.hub.taps()[0]
        assert (tap["units"], tap["dir"]) == (1, "exit")
        assert delivered(rig) == [(hold_of(rig, 0), 1)]
    finally:
        await rig.stop()


async def test_turnstile_unused_grant_is_reported_as_not_delivered():
    rig = started("turnstile", pass_timeout_ms=100)
    try:
        rig.board.sensor.pulse()  # someone before the grant: not this visitor's passage
        await rig.tap_and_wait("04A1B2C3")
        await acked(rig, 1)
        assert not relay_on(rig)
        assert 95 <= on_ms(rig) < 400
        assert rig.hub.taps()[0]["dir"] == "entry"
        assert delivered(rig) == [(hold_of(rig, 0), 0)]
    finally:
        await rig.stop()


# --- billiard table ------------------------------------------------------------------


async def test_billiard_session_runs_the_bought_time_and_warns_before_the_end():
    rig = started("billiard", units=3, unit_ms=400, warn_s=1)
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert relay_on(rig)
        await acked(rig, 1, ms=4000)
        assert 1195 <= on_ms(rig) < 1500
        end = rig.board.timeline[-1][0]
        [(warned, kind)] = [s for s in rig.board.indicator.log if s[1] == hal.WARN]
        assert 950 <= ticks_diff(end, warned) <= 1100
        assert delivered(rig) == [(hold_of(rig, 0), 3)]
    finally:
        await rig.stop()


async def test_billiard_release_reports_used_minutes_rounded_up():
    rig = started("billiard", units=5, unit_ms=100, warn_s=0)
    try:
        rig.board.button.press()  # before the session: no release
        await rig.tap_and_wait("04A1B2C3")
        await sleep_ms(250)
        assert relay_on(rig)
        rig.board.button.press()
        await acked(rig, 1)
        assert not relay_on(rig)
        assert 245 <= on_ms(rig) < 300
        assert delivered(rig) == [(hold_of(rig, 0), 3)]  # 2.5 minutes used -> 3
        assert rig.board.indicator.signals == [hal.GRANT]
    finally:
        await rig.stop()


async def test_billiard_tap_during_session_extends_it_with_a_second_hold():
    rig = started("billiard", units=2, unit_ms=100, warn_s=0)
    try:
        await rig.tap_and_wait("04A1B2C3")
        await sleep_ms(50)
        await rig.tap_and_wait("04FFFFFF")
        await sleep_ms(200)  # past the first hold's 200 ms
        assert relay_on(rig)
        rig.board.button.press()
        await acked(rig, 2)
        assert 245 <= on_ms(rig) < 320  # one session, the relay never dropped
        # 3 minutes used: the first hold's 2, then 1 of the second's.
        assert delivered(rig) == [(hold_of(rig, 0), 2), (hold_of(rig, 1), 1)]
    finally:
        await rig.stop()


async def test_billiard_extension_ends_later_and_warns_again():
    rig = started("billiard", units=2, unit_ms=600, warn_s=1)
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert await until(lambda: hal.WARN in rig.board.indicator.signals, 500)
        await rig.tap_and_wait("04FFFFFF")
        await acked(rig, 2, ms=4000)
        assert 2395 <= on_ms(rig) < 2700
        warnings = [ms for ms, kind in rig.board.indicator.log if kind == hal.WARN]
        assert len(warnings) == 2
        assert 950 <= ticks_diff(rig.board.timeline[-1][0], warnings[1]) <= 1100
        assert delivered(rig) == [(hold_of(rig, 0), 2), (hold_of(rig, 1), 2)]
    finally:
        await rig.stop()


async def test_billiard_crash_mid_session_leaves_the_table_off():
    rig = started("billiard", units=5, unit_ms=1000)
    try:
        await rig.tap_and_wait("04A1B2C3")
        assert relay_on(rig)
        rig.tasks[0].cancel()
        await sleep_ms(5)
        assert not relay_on(rig)
        await sleep_ms(20)
        assert delivered(rig) == []  # the session reported nothing itself
        assert rig.ctl.pending_reports() == 1  # the grant's journal entry, sent after a reboot
    finally:
        await rig.stop()


# --- provisioning and protocol ---------------------------------------------------------

PROVISION = {
    "device": "t1",
    "site": "park",
    "key": "5a" * 32,
    "broker": "mqtt://h:1883",
    "wifi": {"ssid": "s", "password": ""},
}


def refused(profile, pins=None):
    data = dict(PROVISION)
    data["profile"] = profile
    data["pins"] = pins or {}
    try:
        config.from_dict(data)
    except config.ConfigError as e:
        return str(e)
    return None


def test_each_kind_has_its_own_fields_and_defaults():
    data = dict(PROVISION)
    data["profile"] = {"kind": "billiard", "units": 30}
    profile = config.from_dict(data).profile
    assert (profile["units"], profile["unit_ms"], profile["warn_s"]) == (30, 60000, 60)
    assert "pulse_ms" not in profile
    assert "a billiard profile has" in refused({"kind": "billiard", "pulse_ms": 5})
    assert "unit_ms" in refused({"kind": "billiard", "unit_ms": 0})
    assert "profile.kind" in refused({"kind": "vending"})
    assert refused({"kind": "slot_machine", "units": 10, "pulse_ms": 30}) is None


def test_sensors_need_a_pin_and_a_turnstile_one_passage():
    assert "pins.sensor" in refused({"kind": "turnstile"})
    assert "pins.sensor" in refused({"kind": "dispenser", "sensor_pulses": 10})
    assert refused({"kind": "turnstile", "direction": "exit"}, {"sensor": 34}) is None
    assert "units" in refused({"kind": "turnstile", "units": 2}, {"sensor": 34})
    assert "direction" in refused({"kind": "turnstile", "direction": "in"}, {"sensor": 34})
    assert "also" in refused({"kind": "turnstile"}, {"sensor": 26})  # the relay's pin


def test_kiosk_and_offline_settings_are_checked():
    assert "acceptor" in refused({"kind": "kiosk"})
    data = dict(PROVISION)
    data["profile"] = {"kind": "kiosk", "coin_value": 50}
    data["pins"] = {"sensor": 34, "display": {"addr": 0x3F}}
    cfg = config.from_dict(data)
    assert (cfg.profile["coin_value"], cfg.profile["idle_ms"]) == (50, 30000)
    assert cfg.pins["display"] == {"i2c": 1, "scl": 32, "sda": 33, "addr": 0x3F}
    assert "coin_value" in refused({"kind": "kiosk", "coin_value": 0}, {"sensor": 34})
    assert "a kiosk profile has" in refused({"kind": "kiosk", "offline_units_card": 1}, {"sensor": 34})
    assert "pins.display.addr" in refused({"kind": "kiosk"}, {"sensor": 34, "display": {"addr": 300}})
    assert "pins.display" in refused({"kind": "kiosk"}, {"sensor": 34, "display": 5})
    assert "also" in refused({"kind": "kiosk"}, {"sensor": 34, "display": {"sda": 34}})
    # Offline vends: off unless both limits are set, the card's within the device's.
    assert config.profile_defaults("dispenser")["offline_units_device"] == 0
    assert refused({"kind": "dispenser", "offline_units_card": 2, "offline_units_device": 10}) is None
    assert "cannot exceed" in refused({"kind": "slot_machine", "offline_units_card": 2})
    assert "offline_units_device" in refused({"kind": "dispenser", "offline_units_device": -1})
    assert "a billiard profile has" in refused({"kind": "billiard", "offline_units_device": 5})


def test_tap_direction_is_optional_and_checked():
    def tap(extra):
        return hub_side.decode(
            topics.TAP, ('{"id": "1-1", "card": "04A1B2C3", "units": 1%s}' % extra).encode()
        )

    assert "dir" not in tap("")
    assert tap(', "dir": "exit"')["dir"] == "exit"
    try:
        tap(', "dir": "up"')
        raise AssertionError("accepted")
    except ProtocolError as e:
        assert e.code == "bad_field"


# --- hal_esp32: inputs counted by IRQ, buzzer with the indicator (machine faked) -----------


class FakeIrqMachine(FakeMachine):
    def __init__(self):
        FakeMachine.__init__(self)
        pins = self.pins = {}
        Base = self.Pin

        class Pin(Base):
            IN = 0
            PULL_UP = 2
            IRQ_FALLING = 4

            def __init__(self, n, mode=None, pull=None, value=None):
                Base.__init__(self, n, mode, value)
                self.pull = pull
                pins[n] = self

            def irq(self, handler, trigger):
                self.handler = handler

        self.Pin = Pin


class _Flag:
    """asyncio.ThreadSafeFlag's behaviour, for CPython (MicroPython has the real one)."""

    def __init__(self):
        self._event = asyncio.Event()

    def set(self):
        self._event.set()

    def clear(self):
        self._event.clear()

    async def wait(self):
        await self._event.wait()
        self._event.clear()


async def test_esp32_inputs_count_irq_edges_and_the_buzzer_follows_the_indicator():
    saved = {}
    for name in ("machine", "network"):
        saved[name] = sys.modules.get(name)
    fake = FakeIrqMachine()
    sys.modules["machine"] = sys.modules["network"] = fake
    had_flag = hasattr(asyncio, "ThreadSafeFlag")
    if not had_flag:
        asyncio.ThreadSafeFlag = _Flag
    try:
        from firmware import hal_esp32

        data = dict(PROVISION)
        data["pins"] = {"sensor": 34, "button": 13, "buzzer": 4}
        board = hal_esp32.Board(config.from_dict(data).pins)
        assert (fake.pins[34].pull, fake.pins[13].pull) == (None, fake.Pin.PULL_UP)
        fake.pins[34].level = 0  # the pulse line is low when the IRQ looks at it
        for _ in range(3):
            await sleep_ms(2)  # apart by more than hal_esp32.GLITCH_US
            fake.pins[34].handler(fake.pins[34])
        fake.pins[34].handler(fake.pins[34])  # a bounce right after the last edge
        assert (board.sensor.count, board.button.count) == (3, 0)
        waiting = asyncio.create_task(board.sensor.wait())
        assert await until(waiting.done, 500)  # the edges already came
        board.indicator.signal(hal.WARN)
        await sleep_ms(20)
        assert fake.pins[4].level == 1 and fake.pins[2].level == 1  # buzzer and LED
    finally:
        if not had_flag:
            del asyncio.ThreadSafeFlag
        restore_modules(saved)
