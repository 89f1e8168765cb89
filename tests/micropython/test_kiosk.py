# The kiosk profile driven by the real controller, the simulated board (its
# display, the acceptor's enable relay and pulse output) and a fake hub.
# Runs under CPython (pytest) and under the real MicroPython interpreter.
import json

from esp32_fakes import restore_modules
from test_controller import Rig, silent, until

from firmware import config, hal
from firmware.hal import sleep_ms
from firmware.lcd import LCD
from firmware.profiles import kiosk
from protocol import messages, topics

CARD = "04A1B2C3"


class Wallets:
    """A fake hub's wallets: balance enquiries and top-ups (10 % bonus, once per ev)."""

    def __init__(self, balance=1250, unknown=()):
        self.balance = balance
        self.unknown = unknown
        self.credited = {}  # ev -> amount

    def __call__(self, kind, body, seen):
        if body["card"] in self.unknown:
            code = messages.UNKNOWN_CARD
            return {"k": "deny" if kind == topics.TAP else "error", "re": body["id"], "code": code}
        if kind == topics.TAP:
            assert body["units"] == 0
            return {"k": "ack", "re": body["id"], "posted": 0, "voided": 0, "balance": self.balance}
        amount = body["amount"]
        bonus = amount // 10
        if body["ev"] not in self.credited:
            self.credited[body["ev"]] = amount
            self.balance += amount + bonus
        return {
            "k": "ack",
            "re": body["id"],
            "posted": amount,
            "voided": 0,
            "bonus": bonus,
            "balance": self.balance,
        }


def kiosk_rig(policy, flash=None, **fields):
    profile = config.profile_defaults("kiosk")
    profile.update(
        {"cooldown_ms": 0, "reply_timeout_ms": 300, "retries": 0, "coin_value": 50, "idle_ms": 3000}
    )
    profile.update(fields)
    rig = Rig(policy, flash=flash, base=profile)
    rig.ctl.report_retry_ms = 20
    return rig


def acceptor_on(rig):
    return rig.board.relays[0].value()


def topups(rig):
    return [body for kind, body in rig.hub.requests if kind == topics.TOPUP]


def session_on_flash(rig):
    try:
        with open(rig.flash + kiosk.SESSION) as f:
            return json.loads(f.read())
    except OSError:
        return None


async def coins(rig, pulses, want):
    """Insert coins worth `pulses` pulses; wait until the session counted `want` in all."""
    rig.board.sensor.pulse(pulses)
    assert await until(lambda: rig.machine.amount == want), rig.machine.amount


async def test_tap_shows_the_balance_and_enables_the_acceptor():
    rig = kiosk_rig(Wallets(1250))
    rig.start()
    try:
        assert not acceptor_on(rig)
        result = await rig.tap_and_wait(CARD)
        assert result[1] == "balance"
        assert rig.hub.taps()[0]["units"] == 0  # a balance enquiry books nothing
        assert rig.board.display.lines == ("Balance 12.50", "Insert coins")
        assert acceptor_on(rig)
    finally:
        await rig.stop()


async def test_a_debit_cards_debt_is_shown_as_it_is():
    rig = kiosk_rig(Wallets(-250))
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        assert rig.board.display.lines == ("Balance -2.50", "Insert coins")
    finally:
        await rig.stop()
    assert [kiosk.money(m) for m in (0, 5, -5, 1999, -100)] == ["0.00", "0.05", "-0.05", "19.99", "-1.00"]


async def test_coins_are_counted_kept_on_flash_and_topped_up_on_the_second_tap():
    wallets = Wallets(1250)
    rig = kiosk_rig(wallets)
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        await coins(rig, 4, 200)
        session = session_on_flash(rig)
        assert (session["card"], session["amount"]) == (CARD, 200)  # every coin, at once
        await coins(rig, 2, 300)
        assert rig.board.display.lines == ("Credit 3.00", "Tap card to end")
        assert (await rig.tap_and_wait(CARD))[1] == "topup"
        assert not acceptor_on(rig)
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        [topup] = topups(rig)
        assert (topup["card"], topup["amount"], topup["ev"]) == (CARD, 300, session["ev"])
        assert rig.board.display.lines == ("Balance 15.80", "Bonus 0.30")
        assert wallets.balance == 1250 + 300 + 30
        assert session_on_flash(rig) is None and rig.ctl.pending_reports() == 0
    finally:
        await rig.stop()


async def test_idle_timeout_ends_the_session_and_sends_the_top_up():
    rig = kiosk_rig(Wallets(0), idle_ms=150)
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        await coins(rig, 1, 50)
        assert await until(lambda: not acceptor_on(rig), 2000)
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        assert [t["amount"] for t in topups(rig)] == [50]
    finally:
        await rig.stop()


async def test_a_session_without_coins_sends_nothing():
    rig = kiosk_rig(Wallets(0))
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        await rig.tap_and_wait(CARD)
        assert not acceptor_on(rig)
        await sleep_ms(50)
        assert topups(rig) == [] and rig.ctl.pending_reports() == 0
    finally:
        await rig.stop()


async def test_another_card_ends_the_session_for_the_card_that_paid():
    rig = kiosk_rig(Wallets(0))
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        await coins(rig, 2, 100)
        assert (await rig.tap_and_wait("04FFFFFF"))[1] == "balance"
        assert acceptor_on(rig)  # now for the second visitor
        assert await until(lambda: len(topups(rig)) >= 1)
        assert (topups(rig)[0]["card"], topups(rig)[0]["amount"]) == (CARD, 100)
    finally:
        await rig.stop()


async def test_power_cut_mid_session_tops_up_once_after_the_reboot():
    wallets = Wallets(1000)
    rig = kiosk_rig(wallets)
    rig.start()
    await rig.tap_and_wait(CARD)
    await coins(rig, 3, 150)
    ev = session_on_flash(rig)["ev"]
    await rig.stop(clean=False)
    rig.board.power_off()
    assert not acceptor_on(rig)

    again = kiosk_rig(wallets, flash=rig.flash)
    assert again.ctl.pending_reports() == 1  # the session, journaled at boot
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        assert [(t["ev"], t["amount"]) for t in topups(again)] == [(ev, 150)]
        assert wallets.balance == 1000 + 150 + 15
        assert session_on_flash(again) is None and not acceptor_on(again)
    finally:
        await again.stop()


async def test_power_cut_between_journal_and_session_file_credits_once():
    first = kiosk_rig(silent)
    await first.stop(clean=False)
    with open(first.flash + kiosk.SESSION, "w") as f:
        f.write(json.dumps({"ev": "1-5", "card": CARD, "amount": 250}))
    with open(first.flash + "/reports.json", "w") as f:
        f.write(json.dumps([{"k": topics.TOPUP, "body": {"ev": "1-5", "card": CARD, "amount": 250}}]))
    wallets = Wallets(0)
    rig = kiosk_rig(wallets, flash=first.flash)
    rig.start()
    try:
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        await sleep_ms(50)
        assert [t["ev"] for t in topups(rig)] == ["1-5"]
        assert wallets.balance == 275
    finally:
        await rig.stop()


async def test_unknown_card_gets_no_acceptor():
    rig = kiosk_rig(Wallets(0, unknown=(CARD,)))
    rig.start()
    try:
        assert (await rig.tap_and_wait(CARD))[1:3] == ("deny", messages.UNKNOWN_CARD)
        assert not acceptor_on(rig) and rig.board.timeline == []
        assert rig.board.display.lines == ("Card refused", messages.UNKNOWN_CARD)
        assert rig.board.indicator.signals == [hal.DENY]
    finally:
        await rig.stop()


async def test_hub_unreachable_takes_no_cash():
    rig = kiosk_rig(silent)
    rig.start()
    try:
        assert (await rig.tap_and_wait(CARD))[1] == "timeout"
        assert not acceptor_on(rig)
        assert rig.board.display.lines[0] == "Out of service"
    finally:
        await rig.stop()


async def test_top_up_the_hub_refuses_is_kept_and_sent_again_after_a_reboot():
    wallets = Wallets(0)
    rig = kiosk_rig(wallets)
    rig.start()
    await rig.tap_and_wait(CARD)
    await coins(rig, 2, 100)
    wallets.unknown = (CARD,)  # e.g. the card was deleted meanwhile
    await rig.tap_and_wait(CARD)
    assert await until(lambda: rig.ctl.counters["reports_refused"] == 1)
    await sleep_ms(100)
    assert len(topups(rig)) == 1  # not hammered
    assert rig.ctl.pending_reports() == 1
    assert rig.board.display.lines == ("Top-up kept", messages.UNKNOWN_CARD)
    await rig.stop(clean=False)

    wallets.unknown = ()
    again = kiosk_rig(wallets, flash=rig.flash)
    again.start()
    try:
        assert await until(lambda: again.ctl.counters["reports_acked"] == 1)
        assert wallets.balance == 110
    finally:
        await again.stop()


async def test_full_journal_takes_no_more_cash():
    rig = kiosk_rig(Wallets(0))
    for i in range(kiosk.MAX_KEPT):
        rig.ctl.journal.append(
            {
                "k": topics.TOPUP,
                "body": {"ev": "1-%d" % (i + 1), "card": CARD, "amount": 50},
                "code": "unknown_card",
            }
        )
    rig.start()
    try:
        assert (await rig.tap_and_wait("04FFFFFF"))[1:3] == ("deny", "journal_full")
        assert not acceptor_on(rig)
    finally:
        await rig.stop()


class FakeI2C:
    def __init__(self):
        self.writes = []

    def writeto(self, addr, data):
        self.writes.append((addr, bytes(data)))


def _characters(writes):
    """The characters an HD44780 got through the PCF8574 (RS=1 nibble pairs)."""
    text = ""
    for _addr, data in writes:
        strobes = [data[i] for i in range(0, len(data), 2)]  # E high halves
        for i in range(0, len(strobes) - 1, 2):
            if strobes[i] & 1:
                text += chr((strobes[i] & 0xF0) | (strobes[i + 1] >> 4))
    return text


def test_lcd_writes_both_lines_padded_to_16():
    i2c = FakeI2C()
    lcd = LCD(i2c, 0x27)
    i2c.writes = []
    lcd.show("Balance 12.50", "Bonus 0.30")
    assert len(i2c.writes) == 2 and i2c.writes[0][0] == 0x27
    assert _characters(i2c.writes) == "Balance 12.50   " + "Bonus 0.30      "
    assert i2c.writes[0][1][0] & 0xF0 == 0x80 and i2c.writes[1][1][0] & 0xF0 == 0xC0  # row addresses


def _with_fake_machine(fake, check):
    """Run check(esp32_setup) with `machine` and `network` faked (as test_readers does)."""
    import sys

    saved = {}
    for name in ("machine", "network"):
        saved[name] = sys.modules.get(name)
    sys.modules["machine"] = sys.modules["network"] = fake
    try:
        from firmware import esp32_setup

        check(esp32_setup)
    finally:
        restore_modules(saved)


def _kiosk_pins(display):
    data = {
        "device": "k1",
        "site": "park",
        "key": "5a" * 32,
        "broker": "mqtt://h:1883",
        "wifi": {"ssid": "s", "password": "p"},
        "profile": {"kind": "kiosk"},
        "pins": {"sensor": 34, "display": display},
    }
    return config.from_dict(data).pins


def test_esp32_drives_the_provisioned_lcd_or_goes_without():
    from test_readers import FakeMachine

    buses = []

    class LcdMachine(FakeMachine):
        def __init__(self, answers=True):
            FakeMachine.__init__(self)

            def i2c(bus_id, **kw):
                if not answers:
                    raise OSError(19)  # ENODEV: nothing on the bus
                bus = FakeI2C()
                buses.append((bus_id, kw, bus))
                return bus

            self.I2C = i2c

    def with_display(esp32_setup):
        display = esp32_setup.make_display(_kiosk_pins({"addr": 0x3F})["display"])
        [(bus_id, kw, bus)] = buses
        assert bus_id == 1 and kw["freq"] == 100000
        bus.writes = []
        display.show("Balance 1.00")
        assert _characters(bus.writes) == "Balance 1.00    " + " " * 16
        assert bus.writes[0][0] == 0x3F

    def without(esp32_setup):
        assert esp32_setup.make_display(_kiosk_pins(None)["display"]) is None

    def dead(esp32_setup):
        assert esp32_setup.make_display(_kiosk_pins({})["display"]) is None

    _with_fake_machine(LcdMachine(), with_display)
    _with_fake_machine(LcdMachine(), without)
    _with_fake_machine(LcdMachine(answers=False), dead)


class BrokenDisplay:
    """An LCD that stops answering on its I2C bus (a loose cable) from the n-th line on."""

    def __init__(self, works=0):
        self.works = works
        self.lines = ("", "")

    def show(self, line1, line2=""):
        if self.works <= 0:
            raise OSError(19)  # ENODEV, as machine.I2C raises it
        self.works -= 1
        self.lines = (line1, line2)


async def test_a_dead_display_neither_stops_the_kiosk_nor_leaves_the_acceptor_on():
    rig = kiosk_rig(Wallets(1250), idle_ms=150)
    rig.board.display = BrokenDisplay()
    rig.start()
    try:
        result = await rig.tap_and_wait(CARD)
        assert result[1] == "balance" and acceptor_on(rig)
        await coins(rig, 2, 100)
        assert await until(lambda: not acceptor_on(rig), 2000)
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        assert [t["amount"] for t in topups(rig)] == [100]
        assert rig.machine.display_errors > 0
        assert (await rig.tap_and_wait(CARD))[1] == "balance"  # the next visitor is served
    finally:
        await rig.stop()


async def test_a_display_that_dies_mid_session_still_ends_it_with_the_acceptor_off():
    rig = kiosk_rig(Wallets(1250), idle_ms=150)
    rig.board.display = BrokenDisplay(works=1)  # the balance shows, the first coin's line fails
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        assert rig.board.display.lines == ("Balance 12.50", "Insert coins")
        await coins(rig, 3, 150)
        assert await until(lambda: not acceptor_on(rig), 2000)
        assert await until(lambda: rig.ctl.counters["reports_acked"] == 1)
        assert [t["amount"] for t in topups(rig)] == [150]
    finally:
        await rig.stop()


async def test_a_counting_task_that_fails_switches_the_acceptor_off():
    rig = kiosk_rig(Wallets(1250), idle_ms=5000)
    rig.start()
    try:
        await rig.tap_and_wait(CARD)
        assert acceptor_on(rig)

        def broken():
            raise OSError(28)  # ENOSPC: the flash is full

        rig.machine._take = broken
        rig.board.sensor.pulse(1)
        assert await until(lambda: not acceptor_on(rig), 1000)
    finally:
        await rig.stop()
