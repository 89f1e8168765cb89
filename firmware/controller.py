# The controller state machine, the same for every machine: a card is read,
# the hub is asked, a grant is handed to the machine's profile (see
# firmware/profiles), and what it really delivered is reported back so the
# hub can post the hold. Reports are journaled on flash until acknowledged
# and sent by a background task, so the next visitor never waits for them.
import asyncio
import json

from protocol import const, messages, topics
from protocol.ids import write_atomic
from firmware import hal
from firmware.hal import ticks_ms, ticks_diff, sleep_ms

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
        self.counters = {"taps": 0, "granted": 0, "denied": 0, "timeouts": 0,
                         "double_reads": 0, "reports_acked": 0, "reports_refused": 0}
        self.journal_path = journal_path
        self._reports = [r for r in _load(journal_path)
                         if isinstance(r, dict) and "hold" in r and "delivered" in r]
        # Cards the hub blocked (firmware.commands.DENY_FILE).
        self.deny = set(c for c in _load(board.flash_dir + "/denylist.json") if isinstance(c, str))
        self._report_ready = asyncio.Event()
        self.report_retry_ms = _REPORT_RETRY_MS
        self._last_card = None
        self._last_ms = 0

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
            await self._serve(card)
        finally:
            self._last_card = card
            self._last_ms = ticks_ms()

    async def _serve(self, card):
        units = self.profile["units"]
        if card in self.deny:
            # Refused here at once; the hub would refuse it as well.
            reply, rtt = {"k": messages.DENY, "code": messages.BLOCKED_CARD}, 0
        else:
            body = {"card": card, "units": units}
            self.machine.tap_fields(body)
            reply, rtt = await self.link.request(topics.TAP, body)
        code = None
        if reply is None:
            outcome = "timeout"
            self.counters["timeouts"] += 1
            self.board.indicator.signal(hal.ERROR)
        elif reply["k"] == messages.GRANT:
            outcome = "grant"
            self.counters["granted"] += 1
            self.board.indicator.signal(hal.GRANT)
            # Never more than asked for, whatever the reply says.
            await self.machine.grant(reply["hold"], min(reply["units"], units), self.report)
        else:
            outcome = "deny"
            code = reply.get("code")
            self.counters["denied"] += 1
            self.board.indicator.signal(hal.DENY if reply["k"] == messages.DENY else hal.ERROR)
        if self.on_result is not None:
            self.on_result(card, outcome, code, rtt)

    def report(self, hold, delivered):
        """Journal what was delivered against hold; report_loop sends it."""
        self._reports.append({"hold": hold, "delivered": delivered})
        self._save_journal()
        self._report_ready.set()

    def _save_journal(self):
        write_atomic(self.journal_path, json.dumps(self._reports))

    def pending_reports(self):
        return len(self._reports)

    async def report_loop(self):
        """Send journaled reports one by one until the hub has answered each."""
        while True:
            while not self._reports:
                self._report_ready.clear()
                await self._report_ready.wait()
            reply, _rtt = await self.link.request(topics.REPORT, dict(self._reports[0]))
            if reply is None or reply.get("code") == messages.HUB_BUSY:
                await sleep_ms(self.report_retry_ms)
                continue
            # An error other than "busy" (e.g. the hold expired) will not change on retry.
            self.counters["reports_acked" if reply["k"] == messages.ACK else "reports_refused"] += 1
            self._reports.pop(0)
            self._save_journal()


def _load(path):
    """The JSON list kept in path; [] when it is missing or damaged."""
    try:
        with open(path) as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []
