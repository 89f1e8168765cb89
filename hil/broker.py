"""Start an MQTT broker on a free port: Mosquitto when it is installed, else amqtt.

Used by the demo, the benchmark and the tests, so that each gets a broker of
its own with the settings tapgift needs (TCP_NODELAY, no persistence).

A secure broker (Mosquitto) runs its dynamic security plugin: only the hub's users
log in at first, each an admin of the plugin; the hub (Settings.dynsec) admits every
device it registers, with its own password, client id and topics
(hub/devices/admission.py), while the broker runs.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import glob
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from hub.devices import admission
from hub.devices.registry import HUB_USER, reserved_device_id
from protocol import messages, topics
from protocol.signing import _SUFFIX_LEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


# The largest message the protocol allows: a body of MAX_BODY bytes and its
# tag, on the longest topic (two 40-character ids, the longest kind). A larger
# packet is refused by the broker (MAX_PACKET), before the hub spends an HMAC on it.
MAX_PAYLOAD = messages.MAX_BODY + _SUFFIX_LEN
MAX_TOPIC = len(topics.up("s", "d", topics.CMDACK)) - 2 + 2 * topics._MAX_ID_LEN


def publish_packet_size(topic_len: int, payload_len: int) -> int:
    """A QoS 1 PUBLISH packet in MQTT 3.1.1 (what controllers and the hub speak) as Mosquitto
    counts it against max_packet_size: the packet's remaining length (topic length 2, topic,
    packet id 2, payload) and 1 for its type byte, not the 1-4 bytes of the length itself
    (Mosquitto's packet reader: remaining_length + 1 > max_packet_size)."""
    return 1 + 2 + topic_len + 2 + payload_len


# The largest packet a client may send (Mosquitto 2's max_packet_size; message_size_limit, which
# counted the payload alone, is deprecated there): the largest message on the longest topic at
# QoS 1. A payload one byte larger there is refused; on a shorter topic or at QoS 0 (no packet
# id) it may exceed MAX_PAYLOAD by the difference, a few dozen bytes at most, which the hub
# refuses by the protocol's own check. CONNECT and SUBSCRIBE packets are far smaller. An MQTT 5
# client's packet also carries properties (1 byte or more): none of tapgift's speaks MQTT 5.
MAX_PACKET = publish_packet_size(MAX_TOPIC, MAX_PAYLOAD)

SIZE_LIMITS = f"max_packet_size {MAX_PACKET}"

MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
user {user}
{access}
set_tcp_nodelay true
{size_limits}
persistence false
max_inflight_messages 0
max_queued_messages 100000
log_dest file {log}
log_type error
log_type warning
"""


OPEN_ACCESS = "allow_anonymous true"
# The dynamic security plugin holds the users and their rights (DESIGN.md decision 6):
# a device logs in only with its own client id (= its user name = its id) and may
# publish only under its own "up" topics and read only its own "dn" topics; the hubs
# (HUB_USER, HUB_USER-2, ...: names no device may have, nor its client id) read and
# write all of tg/# and administer the plugin. The plugin keeps them in its file, which
# it rewrites on every change: a restarted broker still knows them.
SECURE_ACCESS = """\
allow_anonymous false
plugin {plugin}
plugin_opt_config_file {dynsec}"""

DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"


def dynsec_plugin() -> str | None:
    """Where the dynamic security plugin is installed (TAPGIFT_DYNSEC_PLUGIN, else the
    usual places); None if nowhere."""
    candidates = [os.environ.get("TAPGIFT_DYNSEC_PLUGIN", "")]
    for lib in ("/usr/lib", "/usr/local/lib", "/usr/lib64"):
        candidates += [f"{lib}/{DYNSEC_PLUGIN}", *sorted(glob.glob(f"{lib}/*/{DYNSEC_PLUGIN}"))]
    return next((c for c in candidates if c and os.path.exists(c)), None)


def dynsec_password(password: str) -> dict:
    """A password as the plugin stores it: PBKDF2-SHA512 with a random salt (what
    `mosquitto_ctrl dynsec init` writes), never the password itself."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": 101,
    }


def dynsec_config(hubs: dict[str, str]) -> dict:
    """The plugin's first configuration: the hubs' users, admins with the hub's role."""
    return {
        "defaultACLAccess": admission.DEFAULT_ACL_ACCESS,
        "clients": [
            {"username": user, "roles": [{"rolename": admission.HUB_ROLE}], **dynsec_password(password)}
            for user, password in hubs.items()
        ],
        "groups": [],
        "roles": [{"rolename": admission.HUB_ROLE, "acls": admission.hub_acls()}],
    }


def admit_to_password_file(path: Path, users: dict[str, str], broker_pid: int | None = None) -> None:
    """Add (or replace) device users in the password file a Mosquitto broker reads
    (its password_file), as the salted hashes mosquitto_passwd makes; other users stay.
    Given the broker's pid, make it reload the file (SIGHUP). The hubs' names are refused."""
    for user in users:
        if reserved_device_id(user) or not user or ":" in user:
            raise ValueError(f"{user!r} cannot be admitted as a device")
    path = Path(path)
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(":", 1)[0] not in users]
    with tempfile.TemporaryDirectory(prefix="tapgift-passwd-") as tmp:
        plain = Path(tmp) / "passwords"
        plain.touch(0o600)
        plain.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
        # Hashed in the private copy: the passwords never appear on a command line.
        subprocess.run(["mosquitto_passwd", "-U", str(plain)], check=True, capture_output=True)
        hashed = plain.read_text()
    # Rewritten in place, so the file keeps its owner and mode (the broker's user
    # must still read it); Mosquitto reads it only when it reloads, after this.
    path.touch(0o600)
    path.write_text("".join(line + "\n" for line in kept) + hashed)
    if broker_pid:
        os.kill(broker_pid, signal.SIGHUP)


class DynsecControl:
    """A connection to a broker's dynamic security plugin as one of its admins (a hub's
    user, `url` = mqtt://user:password@host:port) under a client id of its own, so that a
    hub logged in as the same user stays connected. For tools: Broker.allow and add_hub,
    `tapgift device add`. The hub itself uses its own connection (hub/devices/admission.py)."""

    def __init__(self, url: str, timeout: float = 10.0):
        from hub.mqtt.bridge import parse_mqtt_url

        self.mqtt = parse_mqtt_url(url)
        self.timeout = timeout
        self._answers: dict[str, list[dict]] = {}
        self._answered = threading.Condition()
        self._ready = threading.Event()
        self._refused: str | None = None
        self._client = None

    def __enter__(self) -> DynsecControl:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{HUB_USER}-tools-{secrets.token_hex(4)}"
        )
        client.username_pw_set(self.mqtt["username"], self.mqtt["password"])
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *a: self._ready.set()
        client.on_message = self._on_message
        try:
            client.connect(self.mqtt["hostname"], self.mqtt["port"])
        except OSError as exc:
            raise ConnectionError(f"broker {self.mqtt['hostname']}:{self.mqtt['port']}: {exc}") from None
        client.loop_start()
        self._client = client
        if not self._ready.wait(self.timeout) or self._refused:
            self.__exit__()
            raise ConnectionError(
                f"the broker did not let {self.mqtt['username']} in: {self._refused or 'no answer'}"
            )
        return self

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            client.disconnect()
            self._ready.set()
        else:
            client.subscribe(admission.RESPONSE_TOPIC, qos=1)

    def _on_message(self, _client, _userdata, message) -> None:
        responses = json.loads(message.payload)["responses"]
        with self._answered:
            self._answers[responses[0].get("correlationData")] = responses
            self._answered.notify_all()

    def run(self, commands: list[dict]) -> list[dict]:
        """The commands, in order; their answers. RuntimeError if the plugin refuses one."""
        packed = admission.pack(commands, secrets.token_hex(6))
        for _, payload in packed:
            self._client.publish(admission.CONTROL_TOPIC, payload, qos=1)
        with self._answered:
            for correlation, _ in packed:  # answered in order: the time limit is per message
                if not self._answered.wait_for(lambda c=correlation: c in self._answers, self.timeout):
                    raise TimeoutError("no answer from the broker's dynamic security plugin")
            responses = [r for c, _ in packed for r in self._answers.pop(c)]
        errors = admission.failures(commands, responses)
        if errors:
            raise RuntimeError("the broker refused: " + "; ".join(errors))
        return responses

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


class Broker:
    """A running broker; `url` is what clients connect to. A secure broker (Mosquitto with
    its dynamic security plugin) admits the hubs' users, and the devices a hub admits
    (Settings.dynsec) or allow() is given, each on its own topics."""

    host = "127.0.0.1"

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | None = None,
        kind: str | None = None,
        secure: bool | None = False,
        size_limit: bool = True,
    ):
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tapgift-broker-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kind = kind or ("mosquitto" if shutil.which("mosquitto") else "amqtt")
        self.plugin = dynsec_plugin() if self.kind == "mosquitto" else None
        if secure is None:  # as secure as the broker at hand allows
            secure = self.plugin is not None
        if secure and self.plugin is None:
            raise ValueError("a secure broker needs Mosquitto and its dynamic security plugin")
        self.secure = secure
        self.size_limit = size_limit  # False: no limit (tests of MQTT clients with large packets)
        self.hub_password = secrets.token_hex(16) if secure else None
        self._hubs: dict[str, str] = {HUB_USER: self.hub_password} if secure else {}
        self._proc: subprocess.Popen | None = None
        self._started = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """Where clients connect; for a secure broker, with the hub's own credentials."""
        if self.secure:
            return f"mqtt://{HUB_USER}:{self.hub_password}@{self.host}:{self.port}"
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The Mosquitto process's id (None for amqtt, which runs in this process)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Broker:
        if self.kind == "mosquitto":
            self._start_mosquitto()
        else:
            self._start_amqtt()
        self._started = True
        wait_for_port(self.host, self.port)
        return self

    @property
    def dynsec_file(self) -> Path:
        return self.workdir / "dynamic-security.json"

    def _start_mosquitto(self) -> None:
        access = OPEN_ACCESS
        if self.secure:
            if not self._started:  # else: a restart, with what the plugin saved
                self.dynsec_file.unlink(missing_ok=True)
                self.dynsec_file.touch(0o600)
                self.dynsec_file.write_text(json.dumps(dynsec_config(self._hubs), indent=1))
            access = SECURE_ACCESS.format(plugin=self.plugin, dynsec=self.dynsec_file)
        conf = self.workdir / "mosquitto.conf"
        # `user` = who we are: Mosquitto started as root would otherwise switch
        # to its own user and could no longer read or save our files.
        conf.write_text(
            MOSQUITTO_CONF.format(
                port=self.port,
                user=getpass.getuser(),
                access=access,
                log=self.workdir / "mosquitto.log",
                size_limits=SIZE_LIMITS if self.size_limit else "",
            )
        )
        self._proc = subprocess.Popen(
            ["mosquitto", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C in a terminal reaches us, and we stop the
            # broker after the hub, not before.
            start_new_session=True,
        )

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker as AmqttBroker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        ready = threading.Event()

        async def serve() -> None:
            broker = AmqttBroker(config)
            await broker.start()
            self._stopping = asyncio.Event()
            ready.set()
            await self._stopping.wait()
            await broker.shutdown()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())

        self._thread = threading.Thread(target=run, name="amqtt", daemon=True)
        self._thread.start()
        ready.wait(10)

    def add_hub(self, user: str) -> str:
        """One more hub process's user (a name reserved for hubs, e.g. tapgift-hub-2), an
        admin allowed all of tg/#; returns its mqtt:// URL. Hub processes may share a user,
        each with a client id of its own (a name reserved for hubs too)."""
        if not self.secure:
            return self.url
        if not reserved_device_id(user):
            raise ValueError(f"a hub's user must be named {HUB_USER}[-...]: {user!r}")
        password = self._hubs.setdefault(user, secrets.token_hex(16))
        if self._proc is not None:
            self.control(
                [
                    {"command": "deleteClient", "username": user},
                    {
                        "command": "createClient",
                        "username": user,
                        "password": password,
                        "roles": [{"rolename": admission.HUB_ROLE}],
                    },
                ]
            )
        return f"mqtt://{user}:{password}@{self.host}:{self.port}"

    def allow(self, users: dict[str, str], site: str = "+") -> None:
        """Admit these device (username, password) pairs at once, each with its client id
        bound to its name and only its own topics (at `site`, or any). The hubs' names are
        refused: admitting one would hand a device the hub's password and all of tg/#.
        (The hub admits the devices it registers by itself: Settings.dynsec.)"""
        for user in users:
            if reserved_device_id(user):
                raise ValueError(f"{user!r} is reserved for the hub; a device cannot have it")
        if not self.secure or not users:
            return
        self.control([c for u, p in users.items() for c in admission.admit_commands(u, site, p)])

    def control(self, commands: list[dict]) -> list[dict]:
        """Send commands to the running broker's dynamic security plugin as the hub's user;
        their answers (RuntimeError if the plugin refuses one)."""
        if self._proc is None or not self.secure:
            raise RuntimeError("no running secure broker")
        with DynsecControl(self.url) as control:
            return control.run(commands)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
            self._loop = None

    def restart(self) -> None:
        """Stop and start again on the same port (clients must reconnect)."""
        self.stop()
        self.start()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
