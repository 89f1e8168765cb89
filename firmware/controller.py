# The controller state machine, the same for every machine: a card is read,
# the hub is asked, a grant is handed to the machine's profile (see
# firmware/profiles), and what it really delivered is reported back so the
# hub can post the hold.
#
# The journal (a JSON list on flash, rewritten with write_atomic) holds what
# the hub must still hear, as {"k": topic kind, "body": message body, ...}:
# a grant is journaled BEFORE the relay moves ("open", delivered 0) and again
# when the machine is done, so a power cut mid-delivery is reported at the next
# boot with what the journal says (0: the visitor is never charged for what
# may not have come out) and the hold is resolved at once instead of expiring.
# There is no write per pulse: two small writes per grant. report_loop sends
# entries in the background, so the next visitor never waits for them.
# Offline vends (firmware/offline.py) and kiosk top-ups use the same journal.
import asyncio
import json

from firmware import hal
from firmware.hal import sleep_ms, ticks_diff, ticks_ms
from protocol import const, messages, topics
from protocol.ids import write_atomic

# Pause before asking again when a report got no reply at all.
_REPORT_RETRY_MS = const(1000)


class Controller:
    """profile: the validated profile settings; machine: the profiles.<kind>.Profile."""

    def __init__(self, board, link, profile, machine, journal_path, on_result=None):
        self.board = board
        self.link = link
        self.profile = profile
        self.machine = machine
        self.on_result = on_result
        self.counters = {
            "taps": 0,
            "granted": 0,
            "denied": 0,
            "timeouts": 0,
            "offline": 0,
            "double_reads": 0,
            "reports_acked": 0,
            "reports_refused": 0,
        }
        self.journal_path = journal_path
        self.journal = _resume(_load(journal_path))
        # Cards the hub blocked (firmware.commands.DENY_FILE).
        self.deny = DenyList.load(board.flash_dir + DENY_FILE)
        self._report_ready = asyncio.Event()
        self.report_retry_ms = _REPORT_RETRY_MS
        self._last_card = None
        self._last_ms = 0
        machine.attach(self)
        self.save()

    async def run(self):
        try:
            while True:
                await self.handle(await self.board.reader.read())
        finally:
            self.machine.stop()
            hal.all_off(self.board.relays)

    async def handle(self, card):
        if card == self._last_card and ticks_diff(ticks_ms(), self._last_ms) < self.profile["cooldown_ms"]:
            self.counters["double_reads"] += 1
            return
        self.counters["taps"] += 1
        try:
            await self.machine.serve(card)
        finally:
            self._last_card = card
            self._last_ms = ticks_ms()

    async def ask(self, card, units):
        """The hub's answer to a tap: (reply or None, ms). A card on the deny list
        is refused here at once; the hub would refuse it as well."""
        if card in self.deny:
            return {"k": messages.DENY, "code": messages.BLOCKED_CARD}, 0
        body = {"card": card, "units": units}
        sun = self.board.reader.last_sun  # NTAG 424 DNA: the hub refuses clones
        if sun:
            body["sun"] = sun
        self.machine.tap_fields(body)
        return await self.link.request(topics.TAP, body)

    async def vend(self, card):
        """A tap on a machine that sells units: ask, deliver, report."""
        units = self.profile["units"]
        offline = self.profile.get("offline_units_device")
        if offline and card not in self.deny and not self.link.client.is_connected():
            reply, rtt = None, 0  # the link is down: no use waiting out the reply timeout
        else:
            reply, rtt = await self.ask(card, units)
        code = None
        if reply is None:
            outcome = "timeout"
            if offline:
                from firmware import offline  # only a device that may vend offline needs it

                outcome, code = await offline.vend(self, card, units)
            if outcome == "timeout":
                self.counters["timeouts"] += 1
                self.board.indicator.signal(hal.ERROR)
        elif reply["k"] == messages.GRANT:
            outcome = "grant"
            self.counters["granted"] += 1
            self.board.indicator.signal(hal.GRANT)
            # Never more than asked for, whatever the reply says.
            units = min(reply["units"], units)
            self.add(topics.REPORT, {"hold": reply["hold"], "delivered": 0}, units=units, open=True)
            await self.machine.grant(reply["hold"], units, self.report)
        else:
            outcome = "deny"
            code = reply.get("code")
            self.counters["denied"] += 1
            self.board.indicator.signal(hal.DENY if reply["k"] == messages.DENY else hal.ERROR)
        self.result(card, outcome, code, rtt)

    def result(self, *args):
        """(card, outcome, code, rtt) to the on_result hook."""
        if self.on_result is not None:
            self.on_result(*args)

    def add(self, kind, body, **extra):
        """Journal a message for the hub (on flash before this returns)."""
        entry = {"k": kind, "body": body}
        entry.update(extra)
        self.journal.append(entry)
        self.save()
        return entry

    def report(self, hold, delivered):
        """The machine delivered `delivered` against hold (or an offline vend's
        id): close its journal entry; report_loop sends it."""
        for entry in self.journal:
            body = entry["body"]
            if entry.get("open") and hold in (body.get("hold"), body.get("off")):
                del entry["open"]
                body["delivered"] = delivered
                if not delivered and "off" in body:
                    self.journal.remove(entry)  # nothing came out: nothing to book
                break
        else:
            self.journal.append({"k": topics.REPORT, "body": {"hold": hold, "delivered": delivered}})
        self.save()

    def save(self):
        write_atomic(self.journal_path, json.dumps(self.journal))
        self._report_ready.set()

    def pending_reports(self):
        return len(self.journal)

    async def report_loop(self):
        """Send journaled entries one by one until the hub has answered each."""
        while True:
            for entry in self.journal:
                if not entry.get("open") and not entry.get("code"):
                    break
            else:
                self._report_ready.clear()
                await self._report_ready.wait()
                continue
            body = dict(entry["body"])
            if entry.get("boot") == self.link.ids.boot:  # an offline vend of this boot
                body["ago"] = max(0, ticks_diff(ticks_ms(), entry["ms"])) // 1000
            reply, _rtt = await self.link.request(entry["k"], body)
            if reply is None or reply.get("code") in (messages.HUB_BUSY, messages.ID_REUSED):
                await sleep_ms(self.report_retry_ms)
                continue
            acked = reply["k"] == messages.ACK
            self.counters["reports_acked" if acked else "reports_refused"] += 1
            if acked or entry["k"] != topics.TOPUP:
                # An error other than "busy" (e.g. the hold expired) will not change on retry.
                self.journal.remove(entry)
            else:
                # Counted cash stays on flash until the hub takes it (tried again after a reboot).
                entry["code"] = reply.get("code") or "error"
            self.save()
            self.machine.settled(entry, reply)


DENY_FILE = "/deny.txt"
_OLD_DENY_FILE = "/denylist.json"  # firmware 0.1: a JSON list


class DenyList:
    """Cards the hub blocked, as one string ",UID,UID,...," in RAM and on flash: 256 cards
    take about 3 KB of heap, where a set of 256 strings took about 13 KB. A set's ways:
    `card in deny`, len, iteration, add, discard, clear, update."""

    def __init__(self, text=","):
        self.text = text

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                text = f.read()
            if text.startswith(",") and text.endswith(","):
                return cls(text)
        except OSError:
            pass
        deny = cls()  # a file of firmware 0.1, or none
        deny.update(c for c in _load(path.replace(DENY_FILE, _OLD_DENY_FILE)) if isinstance(c, str))
        return deny

    def __contains__(self, card):
        return "," + card + "," in self.text

    def __len__(self):
        return self.text.count(",") - 1

    def __iter__(self):
        return iter(self.text[1:-1].split(",") if len(self.text) > 1 else ())

    def __eq__(self, other):
        return set(self) == set(other)

    def add(self, card):
        if "," not in card and card not in self:
            self.text += card + ","

    def update(self, cards):
        for card in cards:
            self.add(card)

    def discard(self, card):
        self.text = self.text.replace("," + card + ",", ",")

    def clear(self):
        self.text = ","


def _resume(journal):
    """The journal as a boot finds it: a delivery cut short by a power cut is
    reported as what was journaled; an offline vend that delivered nothing is dropped."""
    out = []
    for entry in journal:
        if isinstance(entry, dict) and "hold" in entry:  # a report journaled by firmware 0.1
            entry = {"k": topics.REPORT, "body": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("body"), dict) or "k" not in entry:
            continue
        entry.pop("open", None)
        entry.pop("code", None)
        if "off" in entry["body"] and not entry["body"].get("delivered"):
            continue
        out.append(entry)
    return out


def _load(path):
    """The JSON list kept in path; [] when it is missing or damaged."""
    try:
        with open(path) as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []
