"""Flashing and provisioning without hardware: `tapgift device add`, `tapgift fw flash`,
the provisioning file, mip's package.json. Every mpremote invocation we generate is parsed
by mpremote's own command-line machinery (its expansions, command table and argparse specs)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path

import pytest
from mpremote import main as mpremote_main
from typer.testing import CliRunner

from firmware import config as fwconfig
from hil import flashing, micropython, provisioning
from hil.cli import app
from hub import __version__
from hub.devices.registry import DeviceDirectory, mqtt_credentials
from hub.migrations import open_database as make_engine
from protocol import ProtocolError, topics
from protocol.signing import Signer

REPO = Path(__file__).resolve().parents[1]
KEY = "ab" * 32
WIFI = ["--wifi-ssid", "park", "--wifi-password", "s3cret"]
BROKER = ["--broker", "mqtt://10.0.0.2:1883"]
# The fs sub-commands mpremote's do_filesystem acts on; any other word is silently a no-op there.
FS_COMMANDS = {"cat", "ls", "mkdir", "rm", "rmdir", "touch", "cp", "tree"}


class MpremoteUsage(Exception):
    pass


def parse_mpremote(argv: list[str]) -> list[tuple[str, argparse.Namespace]]:
    """Parse a command line as mpremote's main() does, without running anything:
    shortcut expansion (e.g. `reset`), the command table, each command's argparse spec."""
    assert argv[0] == "mpremote"
    no_user_config = type("Config", (), {"commands": {}})()
    mpremote_main.prepare_command_expansions(no_user_config)
    remaining, parsed = list(argv[1:]), []
    try:
        while remaining:
            if remaining[0] == "+":
                remaining.pop(0)
                continue
            mpremote_main.do_command_expansion(remaining)
            cmd = remaining.pop(0)
            if cmd not in mpremote_main._COMMANDS:
                raise MpremoteUsage(f"'{cmd}' is not a command")
            if "+" in remaining:
                end = remaining.index("+")
                command_args, extra = remaining[:end], remaining[end:]
            else:
                command_args, extra = remaining, []
            parser = mpremote_main._COMMANDS[cmd][1]()
            parser.prog = cmd
            parser.add_argument("next_command", nargs=argparse.REMAINDER)
            args = parser.parse_args(command_args)
            _check_fs(cmd, args)
            parsed.append((cmd, args))
            remaining = args.next_command + extra
    except SystemExit as e:  # argparse and mpremote's usage errors exit
        raise MpremoteUsage(f"mpremote rejects {argv}: exit {e.code}") from None
    return parsed


def _check_fs(cmd: str, args: argparse.Namespace) -> None:
    if cmd != "fs":
        return
    sub = args.command[0]
    if sub not in FS_COMMANDS and not (sub.endswith("sum") and sub[-4].isdigit()):
        raise MpremoteUsage(f"'fs {sub}' is not a filesystem command")
    if sub == "cp" and len(args.path) < 2:
        raise MpremoteUsage("fs cp needs a source and a destination")


@pytest.fixture
def provision_file(tmp_path) -> Path:
    data = provisioning.build("d1", "aqua", KEY, "mqtt://10.0.0.2:1883", "park", "pw")
    return provisioning.write(data, tmp_path / "d1.json")


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


# --- mpremote's own command line -------------------------------------------------


def test_every_invocation_is_accepted_by_mpremotes_own_parser(tmp_path, provision_file):
    steps = flashing.plan("/dev/ttyUSB0", tmp_path / "build", provision_file)
    enter, install = [[cmd for cmd, _ in parse_mpremote(argv)] for argv in steps]
    assert enter == ["connect", "fs", "exec"]  # `reset` is mpremote's shortcut for an exec
    assert install == ["connect", "exec", "fs", "fs", "fs", "fs", "exec", "exec", "fs", "exec"]
    fs = [(a.command[0], a.recursive, a.path) for cmd, a in parse_mpremote(steps[1]) if cmd == "fs"]
    build = (tmp_path / "build").resolve()
    assert fs == [
        ("cp", True, [str(build / "lib"), ":"]),
        ("cp", False, [str(build / "main.py"), ":main.py"]),
        ("cp", False, [str(build / "boot.py"), ":boot.py"]),
        ("cp", False, [str(provision_file.resolve()), ":provision.json.tmp"]),
        ("rm", False, [":maintenance"]),
    ]
    execs = [a.expr[0] for cmd, a in parse_mpremote(steps[1]) if cmd == "exec"]
    assert execs[1] == 'import os; os.rename("/provision.json.tmp", "/provision.json")'
    assert "config.load()" in execs[2] and "machine.reset()" in execs[3]


@pytest.mark.parametrize(
    "argv",
    [
        ["mpremote", "connect", "/dev/ttyUSB0", "fs", "cpp", "a", ":b"],
        ["mpremote", "connect", "/dev/ttyUSB0", "exce", "print(1)"],
        ["mpremote", "connect", "/dev/ttyUSB0", "fs", "cp", "a"],
        ["mpremote", "connect", "/dev/ttyUSB0", "fs", "--recursve", "cp", "a", ":"],
        ["mpremote", "connect"],
        ["mpremote", "connect", "/dev/ttyUSB0", "+", "sleep", "soon"],
    ],
)
def test_the_parser_check_catches_typos(argv):
    with pytest.raises(MpremoteUsage):
        parse_mpremote(argv)


def test_every_exec_snippet_is_valid_python(tmp_path, provision_file):
    for argv in flashing.plan("auto", tmp_path, provision_file):
        for cmd, args in parse_mpremote(argv):
            if cmd == "exec":
                compile(args.expr[0], "<mpremote exec>", "exec")


@pytest.mark.parametrize("port", ["", "-p", "+", " /dev/ttyUSB0"])
def test_a_port_mpremote_would_misread_is_refused(tmp_path, provision_file, port):
    with pytest.raises(flashing.FlashError, match="bad port"):
        flashing.plan(port, tmp_path, provision_file)


# --- fw flash: dry run and recorded runs -------------------------------------------


def _script_tokens(text: str) -> list[str]:
    return shlex.split(text.replace("\\\n", " "), comments=True)


def test_dry_run_prints_the_mpremote_commands_and_changes_nothing(tmp_path, provision_file):
    build = tmp_path / "build"
    result = cli(
        "fw",
        "flash",
        "--port",
        "/dev/does-not-exist",
        "--provision",
        str(provision_file),
        "--build",
        str(build),
        "--dry-run",
        "--settle",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# dry run: nothing built, registered or copied")
    steps = flashing.plan("/dev/does-not-exist", build, provision_file)
    assert _script_tokens(result.output) == steps[0] + ["sleep", "2"] + steps[1]
    assert not build.exists()


def test_dry_run_with_device_id_registers_nothing(tmp_path):
    db = tmp_path / "hub.db"
    result = cli(
        "fw",
        "flash",
        "--port",
        "COM3",
        "--dry-run",
        "--db",
        str(db),
        "--device-id",
        "d2",
        "--site",
        "aqua",
        "--price",
        "150",
        *BROKER,
        *WIFI,
    )
    assert result.exit_code == 0, result.output
    assert "would fetch device d2" in result.output and "mpremote connect COM3" in result.output
    assert not db.exists()


def _fake_mpremote(tmp_path: Path, fail_on_call: int = 0) -> dict:
    """TAPGIFT_MPREMOTE pointing at a script that records its argv (and can fail once)."""
    log = tmp_path / "mpremote.log"
    script = tmp_path / "fake_mpremote.py"
    script.write_text(
        "import json, sys\n"
        f"log = {str(log)!r}\n"
        "with open(log, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"calls = sum(1 for _ in open(log))\n"
        f"sys.exit(1 if calls == {fail_on_call} else 0)\n"
    )
    return {"TAPGIFT_MPREMOTE": f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"}


def _recorded(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "mpremote.log").read_text().splitlines()]


def test_flash_with_device_id_registers_builds_and_runs_the_plan(tmp_path):
    db, build, out = tmp_path / "hub.db", tmp_path / "build", tmp_path / "d3.json"
    args = [
        "fw",
        "flash",
        "--port",
        "/dev/ttyUSB1",
        "--db",
        str(db),
        "--device-id",
        "d3",
        "--site",
        "aqua",
        "--build",
        str(build),
        "--provision-out",
        str(out),
        "--settle",
        "0",
        *BROKER,
        *WIFI,
    ]
    first = cli(*args, "--price", "200", env=_fake_mpremote(tmp_path))
    assert first.exit_code == 0, first.output
    assert "device d3 registered" in first.output and first.output.rstrip().endswith("flashed /dev/ttyUSB1")
    steps = flashing.plan("/dev/ttyUSB1", build, out)
    assert _recorded(tmp_path) == [argv[1:] for argv in steps]
    flashing.check_build(build)
    assert (build / "lib" / "firmware" / "app.mpy").exists()
    key = json.loads(out.read_text())["key"]
    assert DeviceDirectory(make_engine(str(db))).signer("aqua", "d3") is not None
    # Re-flashing a replaced board: the device is found, its key kept, no price needed.
    again = cli(*args, env=_fake_mpremote(tmp_path))
    assert again.exit_code == 0, again.output
    assert "device d3 found" in again.output and json.loads(out.read_text())["key"] == key


def test_a_failed_mpremote_step_stops_the_flash_with_a_clear_error(tmp_path, provision_file):
    result = cli(
        "fw",
        "flash",
        "--port",
        "/dev/ttyUSB0",
        "--provision",
        str(provision_file),
        "--build",
        str(tmp_path / "build"),
        "--settle",
        "0",
        env=_fake_mpremote(tmp_path, fail_on_call=2),
    )
    assert result.exit_code == 1
    assert "mpremote failed (exit 1) in step 2 of 2" in result.output
    assert "maintenance" in result.output and len(_recorded(tmp_path)) == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "give either --provision FILE or --device-id"),
        (["--provision", "p.json", "--device-id", "d"], "give either --provision FILE or --device-id"),
        (["--provision", "missing.json"], "cannot read missing.json"),
        (["--device-id", "d4", *BROKER, *WIFI], "--site missing"),
        (["--device-id", "d 4", "--site", "aqua", *BROKER, *WIFI], "device id 'd 4'"),
        (["--device-id", "d4", "--site", "aqua", *BROKER], "Wi-Fi SSID missing"),
        (["--device-id", "d4", "--site", "aqua", *WIFI], "--broker missing"),
        (["--device-id", "d4", "--site", "aqua", "--price", "0", *BROKER, *WIFI], "price must be a positive"),
    ],
)
def test_flash_refuses_bad_input_with_a_clear_error(tmp_path, extra, message):
    result = cli(
        "fw",
        "flash",
        "--port",
        "/dev/ttyUSB0",
        "--dry-run",
        *extra,
        env={"TAPGIFT_WIFI_SSID": None, "TAPGIFT_WIFI_PASSWORD": None, "TAPGIFT_DEVICE_BROKER": None},
    )
    assert result.exit_code == 1
    assert "error: " in result.output and message in result.output


def test_flash_without_price_for_an_unknown_device_says_how_to_register_it(tmp_path):
    result = cli(
        "fw",
        "flash",
        "--port",
        "/dev/ttyUSB0",
        "--db",
        str(tmp_path / "hub.db"),
        "--device-id",
        "d5",
        "--site",
        "aqua",
        "--build",
        str(tmp_path / "b"),
        *BROKER,
        *WIFI,
        env=_fake_mpremote(tmp_path),
    )
    assert result.exit_code == 1
    assert "device d5 is not registered: give --price to add it" in result.output
    assert not (tmp_path / "mpremote.log").exists()


# --- the provisioning file ---------------------------------------------------------


def test_the_provisioning_file_round_trips_through_the_firmware_parser(tmp_path):
    data = provisioning.build(
        "pool-7",
        "aqua",
        KEY,
        "mqtt://10.0.0.2:1884",
        "park",
        "pw",
        profile={"units": 2},
        pins={"relays": [25, 27]},
    )
    path = provisioning.write(data, tmp_path / "sub" / "pool-7.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["pool-7.json"]  # no temp file left
    cfg = fwconfig.from_dict(json.loads(path.read_text()))
    user, password = mqtt_credentials("pool-7", KEY)
    assert (cfg.device, cfg.site, cfg.key) == ("pool-7", "aqua", KEY)
    assert cfg.broker == {"host": "10.0.0.2", "port": 1884, "user": user, "password": password, "tls": False}
    assert cfg.wifi == {"ssid": "park", "password": "pw"}
    assert cfg.profile == {**fwconfig.DEFAULT_PROFILE, "units": 2}
    assert cfg.pins["relays"] == [25, 27]
    # Complete: every default is written out, nothing is left to the firmware's defaults.
    assert data["profile"] == cfg.profile and data["pins"] == cfg.pins
    assert set(fwconfig.DEFAULT_PINS) <= set(data["pins"])
    assert fwconfig.from_dict(json.loads(path.read_text())).pins == data["pins"]
    assert provisioning.load(path) == data


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"wifi_ssid": ""}, "Wi-Fi SSID missing"),
        ({"wifi_password": None}, "Wi-Fi password missing"),
        ({"broker": "tcp://h:1883"}, "broker must start with mqtt://"),
        ({"broker": "mqtt://u:p@h:1883"}, "without user:password"),
        ({"key_hex": "abcd"}, "key is shorter than 16 bytes"),
        ({"pins": {"relays": []}}, "pins.relays must be a non-empty list"),
        ({"profile": {"pulse_ms": 0}}, "profile.pulse_ms must be an integer"),
        ({"profile": {"kind": "kiosk"}}, "differs from --kind"),
    ],
)
def test_a_file_the_firmware_would_refuse_is_not_built(kwargs, message):
    args = {
        "device_id": "d1",
        "site": "aqua",
        "key_hex": KEY,
        "broker": "mqtt://h:1883",
        "wifi_ssid": "park",
        "wifi_password": "pw",
        **kwargs,
    }
    with pytest.raises(provisioning.ProvisioningError, match=message):
        provisioning.build(**args)


def test_mqtt_password_is_derived_from_the_key():
    user, password = mqtt_credentials("d1", KEY)
    assert user == "d1" and len(password) == 32 and int(password, 16) >= 0
    assert mqtt_credentials("d1", KEY) == (user, password)
    assert mqtt_credentials("d1", "cd" * 32)[1] != password


# --- device add --------------------------------------------------------------------


def test_device_add_creates_a_device_the_hub_authenticates(tmp_path):
    db, out = tmp_path / "hub.db", tmp_path / "slide-3.json"
    result = cli(
        "device",
        "add",
        "--db",
        str(db),
        "--id",
        "slide-3",
        "--site",
        "aqua",
        "--price",
        "250",
        "--name",
        "Slide 3 water",
        "--out",
        str(out),
        *BROKER,
        *WIFI,
    )
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert (issued["device"], issued["site"], issued["unit_price"]) == ("slide-3", "aqua", 250)
    assert (issued["mqtt_username"], issued["mqtt_password"]) == mqtt_credentials("slide-3", issued["key"])
    topic = topics.up("aqua", "slide-3", topics.TAP)
    sealed = Signer(issued["key"]).seal(topic, b'{"card":"04A1B2C3D4"}')
    hub_signer = DeviceDirectory(make_engine(str(db))).signer("aqua", "slide-3")
    assert hub_signer.open(topic, sealed) == b'{"card":"04A1B2C3D4"}'
    with pytest.raises(ProtocolError):
        hub_signer.open(topic, Signer("cd" * 32).seal(topic, b'{"card":"04A1B2C3D4"}'))
    cfg = fwconfig.load(str(out))
    assert cfg.key == issued["key"] and cfg.broker["password"] == issued["mqtt_password"]


CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUQk9O4kGZ2aXGPhQxkRZ0b8B1yJ0wCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


def test_device_add_for_a_tls_broker_writes_mqtts_and_the_ca(tmp_path, monkeypatch):
    db, out, ca = tmp_path / "hub.db", tmp_path / "gate-1.json", tmp_path / "ca.pem"
    ca.write_text(CA_PEM)
    args = ["device", "add", "--db", str(db), "--id", "gate-1", "--site", "aqua", "--price", "250"]
    tls = ["--broker", "mqtts://10.0.0.2:8883", *WIFI]
    refused = cli(*args, "--out", str(out), *tls)
    assert refused.exit_code != 0 and "needs ca" in refused.output
    monkeypatch.setenv("TAPGIFT_BROKER_CA", str(ca))
    result = cli(*args, "--out", str(out), *tls)
    assert result.exit_code == 0, result.output
    cfg = fwconfig.load(str(out))
    assert cfg.broker["tls"] and cfg.broker["port"] == 8883 and cfg.ca == CA_PEM
    assert json.loads(out.read_text())["broker"].startswith("mqtts://gate-1:")


def test_device_add_without_out_prints_credentials_only(tmp_path):
    result = cli(
        "device", "add", "--db", str(tmp_path / "hub.db"), "--id", "k1", "--site", "aqua", "--price", "100"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["provision"] is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--id", "d1", "--price", "0"], "price must be a positive number"),
        (["--id", "d1", "--price", "-5"], "price must be a positive number"),
        (["--id", "bad/id", "--price", "100"], "device id 'bad/id'"),
        (["--id", "x" * 41, "--price", "100"], "1 to 40"),
        (["--id", "d1", "--price", "100", "--kind", "rocket"], "kind 'rocket'"),
        (["--id", "topup", "--price", "100"], "the hub keys its own bookings by it"),
        (["--id", "tapgift-hub", "--price", "100"], "reserved for the hub"),
        (["--id", "d1", "--price", "100", "--out", "f.json", *BROKER], "Wi-Fi SSID missing"),
        (["--id", "d1", "--price", "100", "--out", "f.json", *WIFI], "--broker missing"),
        (
            ["--id", "d1", "--price", "100", "--out", "f.json", *WIFI, *BROKER, "--pins", "[1]"],
            "--pins must be a JSON object",
        ),
    ],
)
def test_device_add_refuses_bad_input_and_registers_nothing(tmp_path, extra, message):
    db = tmp_path / "hub.db"
    result = cli(
        "device",
        "add",
        "--db",
        str(db),
        "--site",
        "aqua",
        *extra,
        env={"TAPGIFT_WIFI_SSID": None, "TAPGIFT_WIFI_PASSWORD": None, "TAPGIFT_DEVICE_BROKER": None},
    )
    assert result.exit_code == 1
    assert "error: " in result.output and message in result.output
    assert provisioning.find_device(make_engine(str(db)), extra[1]) is None


def test_device_add_refuses_a_device_that_exists(tmp_path):
    args = [
        "device",
        "add",
        "--db",
        str(tmp_path / "hub.db"),
        "--id",
        "d1",
        "--site",
        "aqua",
        "--price",
        "100",
    ]
    assert cli(*args).exit_code == 0
    again = cli(*args)
    assert again.exit_code == 1 and "device d1 is already registered" in again.output


# --- mip ---------------------------------------------------------------------------


def _device_modules() -> set[str]:
    """Every module a board gets into /lib: not the simulator, not the hub's own checks."""
    found = {
        p.relative_to(REPO).as_posix()
        for pkg in ("firmware", "protocol")
        for p in (REPO / pkg).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    return found - {
        "firmware/boot.py",
        "firmware/main.py",
        "firmware/manifest.py",
        "firmware/hal_sim.py",
        "firmware/hal_cpython.py",
        "protocol/hub_side.py",
    }


def test_package_json_lists_exactly_the_modules_that_exist():
    package = json.loads(flashing.PACKAGE_JSON.read_text())
    hint = "regenerate it: python -m hil.flashing package-json"
    assert {dest for dest, _ in package["urls"]} == _device_modules(), hint
    for dest, src in package["urls"]:
        assert (flashing.PACKAGE_JSON.parent / src).resolve() == REPO / dest, (dest, src)
    assert package["version"] == __version__ and package["deps"] == []
    assert package == flashing.mip_package(), hint


def test_manifest_freezes_exactly_what_a_board_runs():
    hint = "regenerate it: python -m hil.flashing manifest"
    text = flashing.MANIFEST.read_text()
    assert text == flashing.manifest_text(), hint
    frozen = set(re.findall(r'^module\("([^"]+)", base_path="\.\."\)$', text, re.M))
    assert frozen == _device_modules(), hint
    assert 'include("$(PORT_DIR)/boards/manifest.py")' in text  # the port's own modules (asyncio...)


class _RecordingTransport:
    def __init__(self):
        self.files, self.dirs = {}, set()

    def fs_exists(self, path):
        return path in self.dirs or path in self.files

    def fs_mkdir(self, path):
        self.dirs.add(path)

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data


def test_mpremote_mip_installs_the_package_into_lib(capsys):
    from mpremote import mip

    transport = _RecordingTransport()
    mip._install_json(transport, str(flashing.PACKAGE_JSON), mip._PACKAGE_INDEX, "/lib", None, False)
    assert transport.files == {f"/lib/{rel}": (REPO / rel).read_bytes() for rel in _device_modules()}
    assert {"/lib/firmware", "/lib/protocol"} <= transport.dirs


def test_the_build_and_the_package_carry_the_same_modules(tmp_path):
    built = {
        p.relative_to(tmp_path / "lib").with_suffix(".py").as_posix()
        for p in micropython.build(tmp_path)
        if p.suffix == ".mpy"
    }
    assert built == _device_modules()
