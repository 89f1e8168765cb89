"""Admitting controllers at the broker: each device's own MQTT user, password and topics.

Registering a device (REST or `tapgift device add`) also admits it at the broker, at once;
rotating its key sets its new broker password, which drops its old connection; removing it
deletes its broker user. The hub does this as an admin of Mosquitto's dynamic security plugin
(https://mosquitto.org/documentation/dynamic-security/): JSON commands published to
`$CONTROL/dynamic-security/v1` over the hub's own MQTT connection, answered on
`.../response`. Each device gets

- a client: its id as user name, the password `registry.mqtt_credentials` derives from its
  key, and its client id bound to its user name (no device can connect as another device or
  take a hub's client id, which starts with HUB_USER like no device id does);
- a role `device:<id>` allowing only publish to `tg/<site>/<id>/up/#` and subscribe to and
  receive `tg/<site>/<id>/dn/#` (protocol/topics.py).

A hub run without a broker to administer (`Settings.dynsec` off: the API alone in tests, a
broker with a password file) uses `Admission`, which does nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from hub.core.errors import Conflict, DomainError
from hub.devices.registry import HUB_USER, mqtt_credentials, reserved_device_id
from protocol import messages

log = logging.getLogger("tapgift.admission")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
# The role of every hub user (HUB_USER, HUB_USER-2, ...): all of tg/# and the plugin's API.
HUB_ROLE = HUB_USER
# A control message stays within the size a broker set up for the protocol accepts
# (hil/broker.py: MAX_PACKET); more commands go in several messages.
MAX_CONTROL_MESSAGE = messages.MAX_BODY
# What the plugin answers when the thing to delete is already gone: not an error here.
_ABSENT = ("Client not found", "Role not found")


class BrokerUnavailable(DomainError):
    """The broker did not do what the hub asked (not connected, no answer, or an error)."""

    status = 503


def device_role(device_id: str) -> str:
    return f"device:{device_id}"


def _acl(acltype: str, topic: str) -> dict:
    return {"acltype": acltype, "topic": topic, "allow": True}


def device_acls(site: str, device_id: str) -> list[dict]:
    """DESIGN 6: a device publishes only under its own "up" topics and reads only its "dn"."""
    up, down = f"tg/{site}/{device_id}/up/#", f"tg/{site}/{device_id}/dn/#"
    return [
        _acl("publishClientSend", up),
        _acl("subscribePattern", down),
        _acl("publishClientReceive", down),
    ]


def hub_acls() -> list[dict]:
    """A hub's rights: read and write all of tg/#, also through a shared subscription
    (Settings.share_group: Mosquitto 2.0 checks `$share/<group>/tg/...` as it is written),
    and administer the plugin."""
    acls = []
    for topic in ("tg/#", "$CONTROL/dynamic-security/#"):
        for acltype in ("publishClientSend", "publishClientReceive", "subscribePattern"):
            acls.append(_acl(acltype, topic))
    acls.append(_acl("subscribePattern", "$share/+/tg/#"))
    return acls


# The plugin's defaults for anything no role allows: nothing but unsubscribing.
DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


def _check_device(device_id: str) -> None:
    if reserved_device_id(device_id) or not device_id:
        raise Conflict(f"{device_id!r} cannot be admitted as a device: the name is the hub's")


def remove_commands(device_id: str) -> list[dict]:
    return [
        {"command": "deleteClient", "username": device_id},
        {"command": "deleteRole", "rolename": device_role(device_id)},
    ]


def create_commands(device_id: str, site: str, password: str) -> list[dict]:
    """The device's role and client, new at the broker. `site` may be "+" (any)."""
    _check_device(device_id)
    user, role = device_id, device_role(device_id)
    return [
        {"command": "createRole", "rolename": role, "acls": device_acls(site, device_id)},
        {
            "command": "createClient",
            "username": user,
            "password": password,
            "clientid": user,
            "roles": [{"rolename": role}],
        },
    ]


def admit_commands(device_id: str, site: str, password: str) -> list[dict]:
    """The device's client and role made anew: whatever was left of them is deleted first,
    which also drops a connection under an old password."""
    return [*remove_commands(device_id), *create_commands(device_id, site, password)]


def password_commands(device_id: str, password: str) -> list[dict]:
    """A new password; the plugin drops the device's connection made with the old one."""
    _check_device(device_id)
    return [{"command": "setClientPassword", "username": device_id, "password": password}]


def _password(device_id: str, key_hex: str) -> str:
    return mqtt_credentials(device_id, key_hex)[1]


def _encode(commands: list[dict]) -> bytes:
    return json.dumps({"commands": commands}, separators=(",", ":")).encode()


def pack(commands: list[dict], tag: str, limit: int = MAX_CONTROL_MESSAGE) -> list[tuple[str, bytes]]:
    """The commands in as few messages as fit `limit` bytes each, in order: [(correlation,
    payload)]. Every command carries its message's correlation (the plugin echoes it)."""

    def message(i: int, chunk: list[dict]) -> tuple[str, bytes]:
        correlation = f"{tag}.{i}"
        return correlation, _encode([{**c, "correlationData": correlation} for c in chunk])

    chunks: list[list[dict]] = [[]]
    for command in commands:
        if chunks[-1] and len(message(len(chunks) - 1, [*chunks[-1], command])[1]) > limit:
            chunks.append([])
        chunks[-1].append(command)
        if len(message(len(chunks) - 1, chunks[-1])[1]) > limit:
            raise BrokerUnavailable(f"a {command['command']} command does not fit a control message")
    return [message(i, chunk) for i, chunk in enumerate(chunks) if chunk]


def failures(commands: list[dict], responses: list[dict]) -> list[str]:
    """The errors in the plugin's answers, but a deletion of what was already gone."""
    errors = []
    for command, response in zip(commands, responses, strict=False):
        error = response.get("error")
        if error and not (command["command"].startswith("delete") and error in _ABSENT):
            errors.append(f"{command['command']}: {error}")
    if len(responses) != len(commands):
        errors.append(f"{len(commands)} commands, {len(responses)} answers")
    return errors


class Admission:
    """No broker to administer: the hub registers devices and the broker is managed apart
    (an open test broker, or a password file)."""

    enabled = False

    async def admit(self, device_id: str, site: str, key_hex: str) -> None:
        """Let the device log in with the credentials its key gives, on its own topics."""

    async def admit_many(self, devices: list[tuple[str, str, str]]) -> None:
        """admit() for [(device id, site, key)], in as few messages as fit."""

    async def set_password(self, device_id: str, site: str, key_hex: str) -> None:
        """The device's new key's password; its old password and connection stop working.
        A device the broker does not know (yet) is admitted."""

    async def remove(self, device_id: str) -> None:
        """The device can no longer log in; a connection it has is dropped."""


class ControlLink(Protocol):
    """What DynsecAdmission uses of the hub's MQTT connection (hub.mqtt.bridge.Bridge)."""

    control: dict[str, Callable[[bytes], None]]
    connected: asyncio.Event
    client: Any  # a gmqtt client while connected (publish(topic, payload, qos=...))
    loop: asyncio.AbstractEventLoop | None

    async def on_own_loop(self, work: Coroutine) -> Any:
        """Await work in the link's loop, from any loop; ConnectionError when it has stopped."""


class DynsecAdmission(Admission):
    """Admission through Mosquitto's dynamic security plugin, over the hub's MQTT connection:
    the hub's user must be an admin of the plugin (hub_acls; hil/broker.py sets one up)."""

    enabled = True

    def __init__(self, link: ControlLink, timeout: float = 5.0):
        self.link = link
        self.timeout = timeout
        self._waiting: dict[str, asyncio.Future] = {}  # correlation -> its message's answers
        link.control[RESPONSE_TOPIC] = self._on_response

    async def admit(self, device_id: str, site: str, key_hex: str) -> None:
        await self.admit_many([(device_id, site, key_hex)])

    async def admit_many(self, devices: list[tuple[str, str, str]]) -> None:
        # New devices: two commands each (the plugin saves its file after every change).
        commands = [c for d, site, key in devices for c in create_commands(d, site, _password(d, key))]
        responses = await self._send(commands)
        errors = failures(commands, responses)
        if errors and all(e.endswith(" already exists") for e in errors):
            # Left from before (a failed registration, a device the database lost): anew.
            stale = {
                c.get("username") or c["rolename"]
                for c, r in zip(commands, responses, strict=True)
                if r.get("error")
            }
            await self.run(
                [
                    c
                    for d, site, key in devices
                    if d in stale or device_role(d) in stale
                    for c in admit_commands(d, site, _password(d, key))
                ]
            )
            return
        self._raise(commands, responses)

    async def set_password(self, device_id: str, site: str, key_hex: str) -> None:
        commands = password_commands(device_id, _password(device_id, key_hex))
        responses = await self._send(commands)
        if responses and responses[0].get("error") == "Client not found":
            await self.admit(device_id, site, key_hex)
            return
        self._raise(commands, responses)

    async def remove(self, device_id: str) -> None:
        await self.run(remove_commands(device_id))

    async def run(self, commands: list[dict]) -> list[dict]:
        """Send the commands in order; their answers, or BrokerUnavailable on any error."""
        responses = await self._send(commands)
        self._raise(commands, responses)
        return responses

    def _raise(self, commands: list[dict], responses: list[dict]) -> None:
        errors = failures(commands, responses)
        if errors:
            raise BrokerUnavailable("the broker refused: " + "; ".join(errors))

    async def _send(self, commands: list[dict]) -> list[dict]:
        if self.link.loop is None:  # the bridge has not started: nothing waits on its events
            raise BrokerUnavailable("the hub is not connected to the broker")
        try:
            # In the bridge's loop, whichever loop asks (the REST API's, a test client's): the
            # MQTT client is the bridge's, and so are the answers' futures.
            return await self.link.on_own_loop(self._send_here(commands))
        except ConnectionError:  # the bridge stopped meanwhile
            raise BrokerUnavailable("the hub is not connected to the broker") from None

    async def _send_here(self, commands: list[dict]) -> list[dict]:
        try:
            await asyncio.wait_for(self.link.connected.wait(), self.timeout)
        except TimeoutError:
            raise BrokerUnavailable("the hub is not connected to the broker") from None
        packed = pack(commands, uuid.uuid4().hex[:12])
        loop = asyncio.get_running_loop()
        futures = []
        for correlation, _ in packed:
            self._waiting[correlation] = future = loop.create_future()
            futures.append(future)
        try:
            client = self.link.client
            if client is None:
                raise BrokerUnavailable("the hub is not connected to the broker")
            for _, payload in packed:
                client.publish(CONTROL_TOPIC, payload, qos=1)
            answers = []
            for future in futures:  # answered in order: the time limit is per message
                async with asyncio.timeout(self.timeout):
                    answers.append(await future)
        except TimeoutError:
            raise BrokerUnavailable(
                f"no answer from the broker's dynamic security plugin within {self.timeout:g} s"
            ) from None
        finally:
            for correlation, _ in packed:
                self._waiting.pop(correlation, None)
        return [r for answer in answers for r in answer]

    def _on_response(self, payload: bytes) -> None:
        """An answer of the plugin (to this hub, or to another admin: not ours, ignored)."""
        try:
            responses = json.loads(payload)["responses"]
            correlation = responses[0].get("correlationData")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            log.warning("unreadable answer from the dynamic security plugin: %r", payload[:200])
            return
        future = self._waiting.get(correlation)  # called on the bridge's loop, as _send_here runs
        if future is not None and not future.done():
            future.set_result(responses)
