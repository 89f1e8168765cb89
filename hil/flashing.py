"""Flashing a controller with mpremote (``tapgift fw flash``).

``plan()`` returns the mpremote invocations (argv lists); ``script()`` shows them
as a shell script (the dry run); ``run()`` executes them. Two invocations:

1. ``fs touch :maintenance + reset`` — the board restarts in maintenance mode
   (boot.py sees the flag: no app, no watchdog), so a 30 s watchdog cannot cut
   the copy short. A board without our firmware ignores the flag.
2. after a pause for the restart: remove the old ``lib/firmware`` and
   ``lib/protocol`` (no stale module survives) and ``/ota`` (versions updated over
   the air, which would start before the flashed one), copy the build's ``lib/``,
   ``main.py``, ``boot.py``, the provisioning file as ``provision.json.tmp``
   renamed to ``provision.json`` (atomic on littlefs), load it with the
   firmware's own parser on the board, remove the flag, reset.

mpremote stops a chain at the first failing command, so a board whose flash
did not complete keeps its flag and boots into maintenance mode, relays off.

``python -m hil.flashing package-json`` rewrites ``firmware/package.json`` (mip);
``python -m hil.flashing manifest`` rewrites ``firmware/manifest.py`` (a frozen image).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from hil import micropython

MPREMOTE = "mpremote"
FLAG = "maintenance"
PROVISION = "provision.json"
PACKAGE_JSON = micropython.REPO / "firmware" / "package.json"

_CLEAN = """import os
def _rm(p):
    try:
        mode = os.stat(p)[0]
    except OSError:
        return
    if mode & 0x4000:
        for n in os.listdir(p):
            _rm(p + "/" + n)
        os.rmdir(p)
    else:
        os.remove(p)
for p in (%s):
    _rm(p)
""" % ", ".join(
    ['"/lib/%s"' % pkg for pkg in micropython.PACKAGES] + ['"/ota"']
)  # /ota: updates (firmware/ota.py)
_RENAME = f'import os; os.rename("/{PROVISION}.tmp", "/{PROVISION}")'
_VERIFY = 'from firmware import config; c = config.load(); print("tapgift: provisioned", c.site, c.device)'


class FlashError(RuntimeError):
    """Flashing cannot start or did not complete; the message says what to do."""


def _chain(*commands: list[str]) -> list[str]:
    """mpremote commands joined with its "+" separator."""
    out: list[str] = []
    for command in commands:
        out += (["+"] if out else []) + command
    return out


def check_port(port: str) -> str:
    if not port or port.startswith("-") or port == "+" or port != port.strip():
        raise FlashError(f"bad port {port!r}: e.g. /dev/ttyUSB0, COM3, auto (list: mpremote connect list)")
    return port


def plan(port: str, build_dir: Path, provision: Path) -> list[list[str]]:
    """The mpremote invocations that flash build_dir and the provisioning file onto the board."""
    connect = [MPREMOTE, "connect", check_port(port)]
    build, provision = Path(build_dir).resolve(), Path(provision).resolve()
    enter = connect + _chain(["fs", "touch", f":{FLAG}"], ["reset"])
    install = connect + _chain(
        ["exec", _CLEAN],
        ["fs", "cp", "-r", str(build / "lib"), ":"],
        ["fs", "cp", str(build / "main.py"), ":main.py"],
        ["fs", "cp", str(build / "boot.py"), ":boot.py"],
        ["fs", "cp", str(provision), f":{PROVISION}.tmp"],
        ["exec", _RENAME],
        ["exec", _VERIFY],
        ["fs", "rm", f":{FLAG}"],
        ["reset"],
    )
    return [enter, install]


def script(steps: list[list[str]], settle: float) -> list[str]:
    """The invocations as a shell script, one mpremote command a line, pauses between them."""
    lines: list[str] = []
    for i, argv in enumerate(steps):
        if i:
            lines.append(f"sleep {settle:g}")
        lines.append(" \\\n  + ".join(shlex.join(part) for part in _segments(argv)))
    return lines


def _segments(argv: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for arg in argv:
        if arg == "+":
            parts.append([])
        else:
            parts[-1].append(arg)
    return parts


def check_build(build_dir: Path) -> None:
    build = Path(build_dir)
    needed = [build / "boot.py", build / "main.py"] + [build / "lib" / p for p in micropython.PACKAGES]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise FlashError(f"incomplete build in {build}: missing {', '.join(missing)}")


def run(steps: list[list[str]], settle: float = 3.0, mpremote: list[str] | None = None, echo=print) -> None:
    """Run the invocations in order; FlashError at the first that fails. mpremote is the
    command that stands for "mpremote": TAPGIFT_MPREMOTE, else this Python's mpremote module."""
    prefix = (
        mpremote or shlex.split(os.environ.get("TAPGIFT_MPREMOTE", "")) or [sys.executable, "-m", "mpremote"]
    )
    for i, argv in enumerate(steps, 1):
        if i > 1:
            echo(f"# waiting {settle:g} s for the board to restart")
            time.sleep(settle)
        echo("$ " + shlex.join(argv))
        code = subprocess.run(prefix + argv[1:]).returncode
        if code:
            raise FlashError(
                f"mpremote failed (exit {code}) in step {i} of {len(steps)}: "
                + (_ENTER_HINT if i == 1 else _INSTALL_HINT)
            )


_ENTER_HINT = (
    "the board was not reached or did not restart. Check the port (mpremote connect list); "
    "if the app's watchdog interferes, hold the maintenance button while it boots and retry."
)
_INSTALL_HINT = (
    "the board keeps the /maintenance flag and starts without the app, relays off. "
    "Fix the cause shown above and flash again."
)


# --- mip ---------------------------------------------------------------------------


def mip_package(version: str | None = None) -> dict:
    """package.json for mip: every module of protocol/ and firmware/ into the lib folder.
    boot.py and main.py are not in it: they belong at the filesystem root (see docs/technicians.md)."""
    from hub import __version__

    base = micropython.REPO / "firmware"
    urls = [
        [rel.as_posix(), Path(os.path.relpath(micropython.REPO / rel, base)).as_posix()]
        for rel in micropython.board_files()
        if rel not in micropython.ROOT_SOURCES
    ]
    return {"urls": urls, "deps": [], "version": version or __version__}


def write_mip_package(path: Path = PACKAGE_JSON) -> Path:
    """Write package.json, one [destination, source] pair a line."""
    package = mip_package()
    pairs = ",\n".join("    " + json.dumps(pair) for pair in package["urls"])
    Path(path).write_text(
        '{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": %s\n}\n'
        % (pairs, json.dumps(package["version"]))
    )
    return Path(path)


# --- a firmware image with the modules frozen (MicroPython's manifest.py) ------------------

MANIFEST = micropython.REPO / "firmware" / "manifest.py"
_MANIFEST_HEAD = """\
# Freezes tapgift's firmware into a MicroPython image for the ESP32: the modules' bytecode
# then runs from flash instead of taking the heap (docs/technicians.md, "A firmware image with
# the modules frozen"). Written by `python -m hil.flashing manifest`; tests/test_flashing.py
# fails until it is rewritten after a module is added or removed. Build it from a MicroPython
# checkout (1.25 or newer) with ESP-IDF set up:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=<this repository>/firmware/manifest.py
# boot.py and main.py stay files at the root of the board's flash, as with tapgift fw flash.
# ruff: noqa: F821  (include and module are MicroPython's manifest functions)
include("$(PORT_DIR)/boards/manifest.py")
"""


def manifest_text() -> str:
    lines = [
        f'module("{rel.as_posix()}", base_path="..")'
        for rel in micropython.board_files()
        if rel not in micropython.ROOT_SOURCES
    ]
    return _MANIFEST_HEAD + "\n".join(lines) + "\n"


def write_manifest(path: Path = MANIFEST) -> Path:
    Path(path).write_text(manifest_text())
    return Path(path)


if __name__ == "__main__":
    if sys.argv[1:] == ["package-json"]:
        print(write_mip_package())
    elif sys.argv[1:] == ["manifest"]:
        print(write_manifest())
    else:
        sys.exit(
            "usage: python -m hil.flashing package-json | manifest   "
            "(rewrites firmware/package.json or firmware/manifest.py)"
        )
