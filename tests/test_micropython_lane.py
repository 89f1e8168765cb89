"""The MicroPython lane: protocol/ and firmware/ compile with mpy-cross, and
their tests, their deployable build and their heap footprint are checked under
the real MicroPython interpreter (WebAssembly port, Node.js)."""

import json
import os
import re

import pytest

from hil import micropython as lane

pytestmark = pytest.mark.micropython

MP_TESTS = sorted((lane.REPO / "tests" / "micropython").glob("test_*.py"))


@pytest.fixture(scope="module")
def node_lane():
    try:
        lane.ensure_node_modules()
    except lane.LaneError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """What a board gets: lane.board_files()."""
    out = tmp_path_factory.mktemp("device")
    return out, lane.build(out)


@pytest.fixture(scope="module")
def built_for_tests(tmp_path_factory):
    """Every module compiled: the tests import the simulator and the hub's checks as well."""
    out = tmp_path_factory.mktemp("device_all")
    return out, lane.build(out, all_sources=True)


def _counts(output):
    m = re.search(r"^(\d+) passed, (\d+) failed", output, re.M)
    assert m, output
    return int(m.group(1)), int(m.group(2))


# --- (a) mpy-cross -------------------------------------------------------------


@pytest.mark.parametrize("rel", lane.source_files(), ids=lambda p: p.as_posix())
def test_compiles_with_mpy_cross(rel, tmp_path):
    out = lane.compile_file(rel, tmp_path / "out.mpy")
    assert out.read_bytes()[:1] == b"M"


def test_the_guide_asks_for_a_release_that_loads_and_runs_our_mpy_files(built):
    """docs/technicians.md names the .mpy version mpy-cross writes, the oldest MicroPython that
    loads it, and the oldest release the firmware's tests passed under: an mpy-cross that moves
    to another .mpy version fails here until the guide follows."""
    out, files = built
    major = lane.emitted_mpy_version().split(".")[0]
    for f in files:
        if f.suffix == ".mpy":
            header = f.read_bytes()[:3]
            # Bytecode only: no architecture, no sub-version, so any 6.x interpreter loads it.
            assert header == b"M" + bytes([int(major)]) + b"\x00", (f, header)
    guide = " ".join((lane.REPO / "docs" / "technicians.md").read_text().split())
    assert f"Use MicroPython {lane.OLDEST_TESTED_RELEASE} or newer" in guide
    assert f"`.mpy` version {major} files, which MicroPython loads from {lane.minimum_micropython()}" in guide


def test_mpy_cross_failure_names_the_file(tmp_path):
    bad = tmp_path / "broken_module.py"
    bad.write_text("def f(:\n    pass\n")
    with pytest.raises(lane.MpyCrossError, match="broken_module.py"):
        lane.compile_file(bad, tmp_path / "broken_module.mpy")


# --- (b) logic tests under MicroPython ------------------------------------------


@pytest.mark.parametrize("path", MP_TESTS, ids=lambda p: p.name)
def test_runs_under_micropython(path, node_lane):
    code, out = lane.run_tests([path])
    passed, failed = _counts(out)
    assert code == 0 and failed == 0, out
    assert passed > 0, out


# --- (c) the deployable build -----------------------------------------------------


def test_build_layout(built):
    out, files = built
    expected = set()
    for rel in lane.board_files():
        if rel in lane.ROOT_SOURCES:
            expected.add(out / lane.ROOT_SOURCES[rel])
        else:
            expected.add(out / "lib" / rel.with_suffix(".mpy"))
    assert set(files) == expected
    assert all(f.exists() for f in files)
    assert not list((out / "lib").rglob("*.py")), "only bytecode goes under lib/"
    for rel in ("firmware/hal_sim.py", "firmware/hal_cpython.py", "protocol/hub_side.py"):
        assert not (out / "lib" / rel).with_suffix(".mpy").exists(), rel


def test_build_for_tests_has_every_module(built_for_tests):
    out, files = built_for_tests
    assert {f for f in files if f.suffix == ".mpy"} == {
        out / "lib" / rel.with_suffix(".mpy") for rel in lane.source_files() if rel not in lane.ROOT_SOURCES
    }


def test_build_imports_under_micropython(built, node_lane):
    out, files = built
    code, output = lane.import_check(out)
    passed, failed = _counts(output)
    assert code == 0 and failed == 0, output
    for f in files:
        if f.suffix == ".mpy":
            module = ".".join(f.relative_to(out / "lib").with_suffix("").parts)
            module = module.removesuffix(".__init__")
            assert re.search(rf"^(PASS|SKIP) import {re.escape(module)}\b", output, re.M), output


def test_build_passes_the_micropython_tests(built_for_tests, node_lane):
    if not MP_TESTS:
        pytest.skip("no tests in tests/micropython/")
    code, output = lane.run_tests(MP_TESTS, build_dir=built_for_tests[0])
    assert code == 0, output


# --- (d) heap footprint -------------------------------------------------------------


def _footprint(module, build_dir=None):
    fp = lane.footprint(module, build_dir=build_dir)
    print(fp)
    assert fp["module"] == module
    assert fp["heap_bytes"] > 0, fp
    return fp


ESP32_HEAP = 112 * 1024  # what MicroPython gets on an ESP32 without PSRAM, once grown


@pytest.fixture(scope="module")
def running(built, node_lane):
    """tapgift fw footprint: the running app, every profile with every reader, from the build."""
    report = lane.running_footprints(built[0])
    print(json.dumps(report))
    return report


def test_the_running_app_is_measured_for_every_profile_and_reader(running):
    assert {(r["kind"], r["reader"]) for r in running["profiles"]} == {
        (k, r) for k in lane.KINDS for r in lane.READERS
    }
    assert running["deny_list"] == 256 and running["loaded_from"] == "mpy"
    for row in running["profiles"]:
        assert 0 < row["heap_running"] <= row["heap_peak"], row
        assert set(row["steps"]) == {"modules", "config", "board", "app", "start", "command", "tap"}, row
        assert 0 < row["heap_code"] < row["heap_peak"], row


def test_the_running_app_fits_the_heap_and_frozen_it_fits_the_target(running):
    """From .mpy files the bytecode is on the heap; an image with the modules frozen
    (firmware/manifest.py) keeps it in flash. DESIGN.md: the peak <= 48 KB."""
    assert running["peak_bytes"] < ESP32_HEAP, running["peak_of"]
    assert running["peak_frozen_estimate_bytes"] <= lane.RUNNING_TARGET, running


def test_a_full_deny_list_costs_little_heap(built, node_lane):
    empty = lane.app_footprint("dispenser", "mfrc522", built[0], deny=0)
    full = lane.app_footprint("dispenser", "mfrc522", built[0], deny=256)
    assert (empty["deny_list"], full["deny_list"]) == (0, 256)
    assert full["heap_running"] - empty["heap_running"] < 4096, (empty, full)


def test_footprint_from_sources_costs_more_than_the_build(built, node_lane):
    # Sources are compiled on the board at import time; the build saves that.
    assert _footprint("firmware.app")["heap_bytes"] > _footprint("firmware.app", built[0])["heap_bytes"]
