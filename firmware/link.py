# Signed request/reply with the hub over MQTT. A reply wakes only the waiter
# whose request id it names, and only while that request is in flight: a
# recorded grant replayed later finds nobody waiting and is dropped. Anything
# else that is not retained (commands, dn/cmd) goes to on_command.
import asyncio

from firmware.hal import ticks_diff, ticks_ms, wait_for_ms
from protocol import const, messages, topics

# A request in flight: [event set when its reply came, the reply or None].
_EVENT = const(0)
_REPLY = const(1)


class Link:
    def __init__(self, signer, ids, site, device, reply_timeout_ms, retries):
        self.client = None  # set by the owner once the MQTT client exists
        self.signer = signer
        self.ids = ids
        self.site = site
        self.device = device
        self.reply_topic = topics.down(site, device)
        self.on_command = None  # on_command(topic, payload): set by the owner
        self.reply_timeout_ms = reply_timeout_ms
        self.retries = retries
        self.invalid = 0  # bad tag, bad JSON, bad fields
        self.ignored = 0  # retained, other topic, nobody waiting
        self._waiters = {}
        self._subscribed = False

    async def subscribe(self):
        # The client re-subscribes by itself after a reconnect.
        if not self._subscribed:
            await self.client.subscribe(self.reply_topic, 1)
            await self.client.subscribe(topics.down(self.site, self.device, topics.CMD), 1)
            self._subscribed = True

    def seal(self, kind, body):
        topic = topics.up(self.site, self.device, kind)
        return topic, self.signer.seal(topic, messages.encode(body))

    def open(self, kind, topic, payload, rules=messages):
        """The checked body of a message from the hub; None (counted) if forged or malformed.
        rules: the module whose decode() checks kind (protocol.manage for commands)."""
        try:
            return rules.decode(kind, self.signer.open(topic, payload))
        except Exception:  # whatever arrives from the network must not crash the client
            self.invalid += 1

    def on_message(self, topic, payload, retain):
        if retain or topic != self.reply_topic:
            # Retained messages are never obeyed: they may be old or planted.
            if retain or self.on_command is None:
                self.ignored += 1
            else:
                self.on_command(topic, payload)  # it checks the topic, tag and seq
            return
        reply = self.open(topics.REPLY, topic, payload)
        if reply is None:
            return
        waiter = self._waiters.get(reply["re"])
        if waiter is None or waiter[_REPLY] is not None:
            self.ignored += 1
            return
        waiter[_REPLY] = reply
        waiter[_EVENT].set()

    async def request(self, kind, body):
        """Publish body (given a fresh id) and wait for its reply: (reply or None, ms).
        An id the hub has seen with another request (this board's ids started again:
        erased flash, replaced board) gets ID_REUSED: the ids get a fresh nonce and the
        request goes once more under a new id."""
        start = ticks_ms()
        for renewed in (False, True):
            rid = self.ids.next()
            body["id"] = rid
            topic, payload = self.seal(kind, body)
            waiter = [asyncio.Event(), None]
            self._waiters[rid] = waiter
            try:
                for _ in range(1 + self.retries):
                    # A repeat carries the same id: the hub answers it with the first answer.
                    try:
                        await wait_for_ms(self._attempt(topic, payload, waiter), self.reply_timeout_ms)
                    except asyncio.TimeoutError:
                        continue
                    break
            finally:
                del self._waiters[rid]
            reply = waiter[_REPLY]
            if renewed or reply is None or reply.get("code") != messages.ID_REUSED:
                break
            self.ids.renew()
        return reply, ticks_diff(ticks_ms(), start)

    async def _attempt(self, topic, payload, waiter):
        if waiter[_REPLY] is None:
            await self.client.publish(topic, payload, 1)
        await waiter[_EVENT].wait()
