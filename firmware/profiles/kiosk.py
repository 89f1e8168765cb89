# A balance kiosk with a coin/bill acceptor. A tap asks the hub for the card's
# balance (a tap of 0 units: nothing is booked) and shows it; then relay 0
# enables the acceptor and its pulse output (board.sensor) is counted at
# coin_value minor units a pulse. The session (card, sum, "ev") is rewritten on
# flash at every counted coin, so counted money survives a power cut. The
# visitor's second tap, or idle_ms without a coin, ends the session: the
# acceptor is disabled and the sum goes into the controller's journal as an
# up/topup, sent and retried like a delivery report (the hub credits it once
# per "ev", the request id taken at the session's first coin). The hub's ack
# brings the new balance and the top-up bonus to the display. A boot that finds
# a session on flash journals it the same way. Without a display the indicator
# (LED, buzzer) is all the visitor gets: grant = balance shown, deny = refused.
import asyncio
import json
import os

from firmware import hal
from firmware.profiles import base
from protocol import messages, topics
from protocol.ids import write_atomic

SESSION = "/kiosk.json"
MAX_KEPT = 16  # top-ups waiting for the hub; more and the kiosk takes no cash


def money(minor):
    # A debit card's balance is below zero: -250 is -2.50 (floor division gives -3.50).
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return "%s%d.%02d" % (sign, minor // 100, minor % 100)


class Profile(base.Profile):
    def __init__(self, board, profile):
        base.Profile.__init__(self, board, profile)
        self.path = board.flash_dir + SESSION
        self.card = None  # the card of the open session
        self.ev = None
        self.amount = 0
        self._seen = 0  # the sensor count already added
        self._task = None
        self.display_errors = 0  # lines the display did not take (I2C errors)

    def attach(self, ctl):
        base.Profile.attach(self, ctl)
        try:
            with open(self.path) as f:
                left = json.loads(f.read())
        except (OSError, ValueError):
            left = None
        if isinstance(left, dict) and left.get("amount"):  # cut off mid-session
            self._journal(left["ev"], left["card"], left["amount"])
        self._forget()

    def show(self, line1, line2=""):
        """A display that stops answering (a loose I2C cable) costs the visitor the text,
        never the session: the kiosk goes on with the LED and buzzer."""
        if self.board.display is not None:
            try:
                self.board.display.show(line1, line2)
            except Exception:
                self.display_errors += 1

    async def serve(self, card):
        if self.card is not None:
            same = card == self.card
            await self.end()
            if same:
                self.ctl.result(card, "topup", None, 0)
                return
        ctl = self.ctl
        reply, rtt = await ctl.ask(card, 0)
        code = None
        if reply is None:
            outcome = "timeout"
            self.show("Out of service", "try again later")
            self.board.indicator.signal(hal.ERROR)
        elif reply["k"] == messages.ACK and ctl.pending_reports() < MAX_KEPT:
            outcome = "balance"
            self.show("Balance " + money(reply.get("balance", 0)), "Insert coins")
            self.board.indicator.signal(hal.GRANT)
            self._begin(card)
        else:
            outcome = "deny"
            code = reply.get("code") or "journal_full"
            self.show("Card refused", code)
            self.board.indicator.signal(hal.DENY)
        ctl.result(card, outcome, code, rtt)

    def _begin(self, card):
        self.card = card
        self.ev = None
        self.amount = 0
        sensor = self.board.sensor
        sensor.clear()
        self._seen = sensor.count
        self.board.relays[0].on()
        self._task = asyncio.create_task(self._count())

    async def _count(self):
        try:
            while True:
                edge = await base.wait_edge(self.board.sensor, self.profile["idle_ms"])
                if not self._take() and not edge:
                    break  # no coin for idle_ms: the visitor has gone
        except asyncio.CancelledError:
            raise  # end(): it closes the session
        except Exception:
            pass  # whatever broke, the session ends below: the acceptor goes off first
        self._task = None
        self._close()

    def _take(self):
        """Add the pulses counted since last time; True when there were any."""
        n = self.board.sensor.count - self._seen
        if n <= 0:
            return False
        self._seen += n
        if self.ev is None:
            self.ev = self.ctl.link.ids.next()
        self.amount += n * self.profile["coin_value"]
        write_atomic(self.path, json.dumps({"ev": self.ev, "card": self.card, "amount": self.amount}))
        self.show("Credit " + money(self.amount), "Tap card to end")
        return True

    async def end(self):
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._close()

    def _close(self):
        self.board.relays[0].off()
        try:
            self._take()  # pulses that came in before the acceptor went off
        except Exception:
            pass  # what _take could not keep stays in the session kept so far
        if self.amount:
            self._journal(self.ev, self.card, self.amount)
            self.show("Thank you", "Crediting " + money(self.amount))
        else:
            self.show("Tap your card", "")
        self._forget()

    def _journal(self, ev, card, amount):
        for entry in self.ctl.journal:
            if entry["body"].get("ev") == ev:
                return  # journaled already, the power went before the session file
        self.ctl.add(topics.TOPUP, {"ev": ev, "card": card, "amount": amount})

    def _forget(self):
        self.card = None
        self.amount = 0
        try:
            os.remove(self.path)
        except OSError:
            pass

    def stop(self):
        if self._task is not None:
            self._task.cancel()
        hal.all_off(self.board.relays)

    def settled(self, entry, reply):
        if entry["k"] != topics.TOPUP or self.card is not None:
            return  # the next visitor's session has the display now
        if reply["k"] == messages.ACK:
            self.show("Balance " + money(reply.get("balance", 0)), "Bonus " + money(reply.get("bonus", 0)))
            self.board.indicator.signal(hal.GRANT)
        else:
            self.show("Top-up kept", reply.get("code", "error"))
            self.board.indicator.signal(hal.ERROR)
