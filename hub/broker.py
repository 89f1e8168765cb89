"""Start an MQTT broker on a free port: Mosquitto when it is installed, else amqtt.

Used by the demo, the benchmark and the tests, so that each gets a broker of
its own with the settings tapgift needs (TCP_NODELAY, no persistence).
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path


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
                raise TimeoutError(f"nothing listens on {host}:{port}")
            time.sleep(0.05)


MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
max_inflight_messages 0
max_queued_messages 100000
log_dest file {log}
log_type error
log_type warning
"""


class Broker:
    """A running broker; `url` is what clients connect to."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, workdir: Path | None = None,
                 kind: str | None = None):
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="tapgift-broker-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kind = kind or ("mosquitto" if shutil.which("mosquitto") else "amqtt")
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> "Broker":
        if self.kind == "mosquitto":
            self._start_mosquitto()
        else:
            self._start_amqtt()
        wait_for_port(self.host, self.port)
        return self

    def _start_mosquitto(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=self.port, log=self.workdir / "mosquitto.log"))
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

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
