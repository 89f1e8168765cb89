"""Start an MQTT broker on a free port: Mosquitto when it is installed, else amqtt.

Used by the demo, the benchmark and the tests, so that each gets a broker of
its own with the settings tapgift needs (TCP_NODELAY, no persistence).
"""

from __future__ import annotations

import asyncio
import getpass
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
# tag, on the longest topic (two 40-character ids, the longest kind). Anything
# larger is refused by the broker, before the hub spends an HMAC on it.
MAX_PAYLOAD = messages.MAX_BODY + _SUFFIX_LEN
MAX_TOPIC = len(topics.up("s", "d", topics.CMDACK)) - 2 + 2 * topics._MAX_ID_LEN
# A whole PUBLISH packet: fixed header (1 + up to 4 bytes of length), topic
# length (2), topic, packet id (2), payload, and room for MQTT 5 properties.
# CONNECT and SUBSCRIBE packets are far smaller.
MAX_PACKET = 1 + 4 + 2 + MAX_TOPIC + 2 + MAX_PAYLOAD + 64

SIZE_LIMITS = f"""\
max_packet_size {MAX_PACKET}
message_size_limit {MAX_PAYLOAD}"""

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
# use_username_as_clientid: a client's id is its user name, whatever it asked
# for, so a device cannot connect as another device (or as the hub) and so
# disconnect it. Each hub process therefore has a user of its own (add_hub).
SECURE_ACCESS = """\
use_username_as_clientid true
allow_anonymous false
password_file {passwords}
acl_file {acl}"""

# DESIGN.md decision 6: a device (username = its id) may publish only under its
# own "up" topics and read only its own "dn" topics; the hub reads and writes all.
# Hub users (HUB_USER, HUB_USER-2, ...: names no device may have) each get HUB_ACL.
HUB_ACL = """\
user {hub_user}
topic readwrite tg/#
"""
ACL = """\
{hubs}
pattern write tg/+/%u/up/#
pattern read tg/+/%u/dn/#
"""


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


def wait_admitted(host: str, port: int, user: str, password: str, timeout: float = 10.0) -> None:
    """Mosquitto reloads on SIGHUP without telling: log in until it works."""
    import paho.mqtt.client as mqtt

    deadline = time.monotonic() + timeout
    while True:
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        probe.username_pw_set(user, password)
        try:
            if probe.connect(host, port) == 0:
                probe.loop(timeout=1.0)
                if probe.is_connected():
                    probe.disconnect()
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"broker did not admit {user}")
        time.sleep(0.05)


class Broker:
    """A running broker; `url` is what clients connect to. A secure broker
    (Mosquitto only) admits just the users given to allow(), each under the ACL."""

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
        if secure is None:  # as secure as the broker at hand allows
            secure = self.kind == "mosquitto"
        if secure and self.kind != "mosquitto":
            raise ValueError("a secure broker needs Mosquitto (mosquitto_passwd, ACL file)")
        self.secure = secure
        self.size_limit = size_limit  # False: no limit (tests of MQTT clients with large packets)
        self.hub_password = secrets.token_hex(16) if secure else None
        self._hubs: dict[str, str] = {HUB_USER: self.hub_password} if secure else {}
        self._users: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
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
        wait_for_port(self.host, self.port)
        return self

    def _start_mosquitto(self) -> None:
        access = OPEN_ACCESS
        if self.secure:
            self._write_passwords()
            access = SECURE_ACCESS.format(passwords=self.workdir / "passwords", acl=self.workdir / "acl")
        conf = self.workdir / "mosquitto.conf"
        # `user` = who we are: Mosquitto started as root would otherwise switch
        # to its own user and could no longer read our files when it reloads.
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
        """One more hub process's user (a name reserved for hubs, e.g. tapgift-hub-2),
        allowed all of tg/#; returns its mqtt:// URL. With a client id bound to the user
        name, two hub processes sharing one user would disconnect each other."""
        if not self.secure:
            return self.url
        if not reserved_device_id(user):
            raise ValueError(f"a hub's user must be named {HUB_USER}[-...]: {user!r}")
        password = self._hubs.setdefault(user, secrets.token_hex(16))
        if self._proc is not None:
            self._write_passwords()
            self._proc.send_signal(signal.SIGHUP)
            self._wait_admitted(user, password)
        return f"mqtt://{user}:{password}@{self.host}:{self.port}"

    def allow(self, users: dict[str, str]) -> None:
        """Admit these device (username, password) pairs; a running broker reloads them.
        The hubs' names are refused: admitting one would hand a device the hub's
        password and its right to all of tg/#."""
        for user in users:
            if reserved_device_id(user):
                raise ValueError(f"{user!r} is reserved for the hub; a device cannot have it")
        if not self.secure:
            return
        self._users.update(users)
        if self._proc is None:
            return
        self._write_passwords()
        self._proc.send_signal(signal.SIGHUP)
        if users:
            user, password = next(reversed(users.items()))
            self._wait_admitted(user, password)

    def _write_passwords(self) -> None:
        path = self.workdir / "passwords"
        users = {**self._users, **self._hubs}
        hubs = "\n".join(HUB_ACL.format(hub_user=u) for u in self._hubs)
        (self.workdir / "acl").write_text(ACL.format(hubs=hubs))
        path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
        path.chmod(0o600)
        # Mosquitto keeps only salted PBKDF2 hashes: let its own tool make them.
        subprocess.run(
            ["mosquitto_passwd", "-U", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _wait_admitted(self, user: str, password: str, timeout: float = 10.0) -> None:
        wait_admitted(self.host, self.port, user, password, timeout)

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
