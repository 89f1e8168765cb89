# Updates over the air (firmware/ota.py): staging an offered bundle piece by piece, checking
# the manifest's signature and every file's hash before anything names the slot, the boot's
# choice (on trial, kept, given up after TRIAL_BOOTS boots), a power cut mid-staging, and a
# trial confirmed by the hub or given up without it. The hub is a fake speaking the real
# signed messages. Runs under CPython (pytest) and under the real MicroPython interpreter,
# hence: no fixtures, no pytest import, no tempfile.
import asyncio
import hashlib
import json
import os

from test_controller import DEVICE, KEY, OTHER_KEY, SITE, Rig, grant_all, until

from firmware import commands, ota
from firmware.hal import sleep_ms
from protocol import hub_side, manage, messages, topics
from protocol.signing import Signer

CMD_TOPIC = topics.down(SITE, DEVICE, topics.CMD)
FW_TOPIC = topics.down(SITE, DEVICE, topics.FW)
VERSION = "0.2.0"
FILES = {
    "firmware/__init__.py": b"",
    "firmware/app.py": b"VERSION = '0.2.0'\n" + b"# padding\n" * 40,
    "firmware/profiles/base.py": b"class Profile:\n    pass\n",
    "protocol/__init__.py": b"X = 1\n",
}


def manifest(files, version=VERSION):
    lines = ["tapgift-fw 1 " + version]
    for path in sorted(files):
        data = files[path]
        lines.append("%s %d %s" % (hashlib.sha256(data).digest().hex(), len(data), path))
    return ("\n".join(lines) + "\n").encode()


def signature(data, version=VERSION, key=KEY):
    return Signer(key).mac(b"tapgift-fw\n", version.encode(), b"\n", hashlib.sha256(data).digest()).hex()


class FakeApp:
    """What firmware.commands and firmware.ota use of firmware.app.App, routing dn/fw as it does."""

    def __init__(self, rig, fw="0.1.0"):
        self.link = rig.link
        self.board = rig.board
        self.controller = rig.ctl
        self.client = rig.client
        self.profile = rig.profile
        self.cfg = self
        self.fw = fw
        self.ota = None
        rig.link.on_command = self.on_command

    def on_command(self, topic, payload):
        if self.ota is not None and topic == self.ota.topic:
            self.ota.on_message(topic, payload)
            return
        commands.on_message(self, topic, payload)


class FwHub:
    """Serves a bundle's pieces on dn/fw (piece bytes at a time) and confirms trials."""

    def __init__(self, rig, files=FILES, piece=100, confirm=True, served=None):
        self.rig = rig
        self.files = dict(files)
        self.files["manifest"] = manifest(files)
        self.served = dict(self.files, **(served or {}))  # what it sends: tampered, maybe
        self.piece = piece
        self.confirm = confirm
        self.asks = []
        self.acks = []
        self.backs = []
        self.silent_after = None  # stop answering after this many pieces (the hub gone)
        rig.hub.on_publish = self.on_publish

    def on_publish(self, topic, payload):
        kind = hub_side.parse(topic)[3]
        body = hub_side.decode(kind, Signer(KEY).open(topic, payload))
        if kind == topics.CMDACK:
            self.acks.append(body)
            return
        if kind != topics.FW:
            return
        self.asks.append(body)
        if body["k"] == "back":
            self.backs.append(body)
            return
        if body["k"] == "hello":
            if self.confirm:
                self.send(messages.encode({"ok": body["v"], "n": body["n"]}))
            return
        if self.silent_after is not None and len(self.asks) > self.silent_after:
            return
        data = self.served[body["f"]][body["o"] : body["o"] + self.piece]
        head = messages.encode({"v": body["v"], "f": body["f"], "o": body["o"]})
        self.send(head + b"\n" + data)

    def send(self, body, key=KEY):
        payload = Signer(key).seal(FW_TOPIC, body)
        asyncio.create_task(self._deliver(payload))

    async def _deliver(self, payload):
        await sleep_ms(1)
        self.rig.link.on_message(FW_TOPIC, payload, False)


def offer(rig, seq, sig=None, size=None, version=VERSION, files=FILES):
    data = manifest(files, version)
    body = {
        "seq": seq,
        "k": "fw",
        "v": version,
        "size": size or len(data),
        "sig": sig or signature(data, version),
    }
    rig.link.on_message(CMD_TOPIC, Signer(KEY).seal(CMD_TOPIC, messages.encode(body)), False)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


async def _connected():
    pass


def setup(**hub):
    ota.IDLE_MS = 300  # the machine's relays off this long: it restarts into the new version
    rig = Rig(grant_all)
    rig.client.wait_connected = _connected  # the in-memory client is always connected
    return rig, FakeApp(rig), FwHub(rig, **hub)


async def done(rig, app, hub, acks=1):
    assert await until(lambda: len(hub.acks) >= acks and app.ota is None, 5000), hub.acks
    return hub.acks[-1]


async def finish(rig):
    ota._clear(rig.flash + ota.ROOT)
    await rig.stop()


async def test_an_offer_is_staged_verified_and_started_on_trial_at_the_next_boot():
    rig, app, hub = setup()
    try:
        rig.board.relays[0].on()  # a game, a session: the machine is busy
        offer(rig, 1)
        assert await done(rig, app, hub) == {"seq": 1, "ok": True}
        folder = rig.flash + ota.ROOT + "/a"
        for path, data in FILES.items():
            assert read(folder + "/" + path) == data, path
        await sleep_ms(ota.IDLE_MS + 200)
        assert rig.board.reboots == 0  # staged and acknowledged, but never in the middle of it
        rig.board.relays[0].off()
        assert await until(lambda: rig.board.reboots == 1, ota.IDLE_MS + 1000)
        assert len(hub.asks) > len(FILES)  # in pieces: app.py alone is four
        # Each boot on trial is counted; after TRIAL_BOOTS the old version is back.
        for _ in range(ota.TRIAL_BOOTS):
            assert ota.boot(rig.flash) == (folder, VERSION, "trial")
        assert ota.boot(rig.flash) == (None, None, "back")
        assert read(rig.flash + ota.ROOT + "/back") == b"0.2.0 restarted"
    finally:
        await finish(rig)


async def test_a_manifest_not_signed_for_this_device_is_refused_and_nothing_is_started():
    rig, app, hub = setup()
    try:
        data = manifest(FILES)
        offer(rig, 1, sig=signature(data, key=OTHER_KEY))
        ack = await done(rig, app, hub)
        assert (ack["ok"], ack["code"]) == (False, ota.BAD_SIGNATURE), ack
        assert not [a for a in hub.asks if a.get("f") not in (None, "manifest")]  # no file fetched
        assert rig.board.reboots == 0
        assert ota.boot(rig.flash) == (None, None, None)
        # Signed for another version: refused as well.
        offer(rig, 2, sig=signature(data, version="0.2.1"))
        assert (await done(rig, app, hub, 2))["code"] == ota.BAD_SIGNATURE
        assert ota.boot(rig.flash) == (None, None, None)
    finally:
        await finish(rig)


async def test_a_tampered_file_is_refused_and_nothing_is_started():
    tampered = FILES["firmware/app.py"].replace(b"0.2.0", b"6.6.6")
    rig, app, hub = setup(served={"firmware/app.py": tampered})
    try:
        offer(rig, 1)
        ack = await done(rig, app, hub)
        assert (ack["ok"], ack["code"], ack["detail"]) == (False, ota.BAD_HASH, "firmware/app.py"), ack
        assert rig.board.reboots == 0 and not exists(rig.flash + ota.ROOT + "/trial")
        assert ota.boot(rig.flash) == (None, None, None)
    finally:
        await finish(rig)


async def test_a_malformed_manifest_or_a_path_out_of_the_packages_is_refused():
    for files in ({"../boot.py": b"x"}, {"firmware/MANIFEST": b"x"}, {"main.py": b"x"}):
        data = manifest(files)
        rig, app, hub = setup(files=files)
        try:
            offer(rig, 1, sig=signature(data), files=files)
            ack = await done(rig, app, hub)
            assert (ack["ok"], ack["code"]) == (False, ota.BAD_MANIFEST), (files, ack)
            assert ota.boot(rig.flash) == (None, None, None)
        finally:
            await finish(rig)


async def test_a_staging_cut_short_is_never_started_and_the_next_offer_starts_afresh():
    rig, app, hub = setup()
    ota.ASK_MS, saved = 30, ota.ASK_MS
    try:
        hub.silent_after = 4  # the hub goes away after four pieces: as good as a power cut
        offer(rig, 1)
        assert await until(lambda: len(hub.asks) > 4)
        # Not kept while staging: after a power cut now, the hub's resend stages it again...
        assert commands.last_seq(rig.flash) == 0
        offer(rig, 1)  # ...and a resend while it stages is a repeat, not a second staging
        ack = await done(rig, app, hub)
        assert (ack["ok"], ack["code"]) == (False, ota.FETCH_FAILED), ack
        assert len(hub.acks) == 1 and commands.last_seq(rig.flash) == 1
        assert exists(rig.flash + ota.ROOT + "/a/MANIFEST")  # half a slot on flash...
        assert ota.boot(rig.flash) == (None, None, None)  # ...that nothing names
        hub.silent_after = None
        offer(rig, 2)
        assert await done(rig, app, hub, 2) == {"seq": 2, "ok": True}
        assert ota.boot(rig.flash)[1:] == (VERSION, "trial")
    finally:
        ota.ASK_MS = saved
        await finish(rig)


async def test_a_trial_confirmed_by_the_hub_is_kept_and_the_next_update_takes_the_other_slot():
    rig, app, hub = setup()
    try:
        offer(rig, 1)
        await done(rig, app, hub)
        state = ota.boot(rig.flash)
        task = asyncio.create_task(ota.watch(app, state))
        assert await until(lambda: not exists(rig.flash + ota.ROOT + "/trial"), 3000)
        assert [a["k"] for a in hub.asks][-1] == "hello"
        assert read(rig.flash + ota.ROOT + "/active") == b"a 0.2.0"
        task.cancel()
        for _ in range(ota.TRIAL_BOOTS + 1):  # kept: no more counting
            assert ota.boot(rig.flash) == (rig.flash + ota.ROOT + "/a", VERSION, None)
        # The next version is staged beside it, never over it.
        files = dict(FILES, **{"firmware/app.py": b"VERSION = '0.3.0'\n"})
        hub.files = hub.served = dict(files, manifest=manifest(files, "0.3.0"))
        app.fw = VERSION
        offer(rig, 2, version="0.3.0", files=files)
        assert await done(rig, app, hub, 2) == {"seq": 2, "ok": True}
        assert ota.boot(rig.flash) == (rig.flash + ota.ROOT + "/b", "0.3.0", "trial")
        assert read(rig.flash + ota.ROOT + "/a/firmware/app.py") == FILES["firmware/app.py"]
    finally:
        await finish(rig)


async def test_a_trial_the_hub_never_confirms_is_given_up_and_the_old_version_tells_the_hub():
    rig, app, hub = setup(confirm=False)
    ota.TRIAL_MS, ota.HELLO_MS, saved = 300, 50, (ota.TRIAL_MS, ota.HELLO_MS)
    try:
        offer(rig, 1)
        await done(rig, app, hub)
        state = ota.boot(rig.flash)
        task = asyncio.create_task(ota.watch(app, state))
        assert await until(lambda: rig.board.reboots == 2, 3000)  # the staging's, then the way back
        assert read(rig.flash + ota.ROOT + "/back") == b"0.2.0 no_hub"
        assert rig.board.relays[0].value() is False
        task.cancel()
        state = ota.boot(rig.flash)
        assert state == (None, None, "back")
        task = asyncio.create_task(ota.watch(app, state))
        assert await until(lambda: hub.backs, 2000)
        assert hub.backs == [{"k": "back", "v": VERSION, "why": "no_hub"}]
        assert await until(lambda: not exists(rig.flash + ota.ROOT + "/back"), 2000)
        task.cancel()
        assert ota.boot(rig.flash) == (None, None, None)
    finally:
        ota.TRIAL_MS, ota.HELLO_MS = saved
        await finish(rig)


async def test_a_forged_answer_or_a_second_offer_during_staging_changes_nothing():
    rig, app, hub = setup()
    try:
        real_send = hub.send
        hub.send = lambda body, key=KEY: real_send(body, OTHER_KEY)  # answers under a wrong key
        ota.ASK_MS, saved = 30, ota.ASK_MS
        offer(rig, 1)
        assert await until(lambda: app.ota is not None)
        offer(rig, 2)  # while the first is staging
        ack = await done(rig, app, hub, 2)
        assert sorted((a["seq"], a.get("code")) for a in hub.acks) == [(1, ota.FETCH_FAILED), (2, ota.BUSY)]
        assert rig.link.invalid > 0 and ota.boot(rig.flash) == (None, None, None)
        assert ack
    finally:
        ota.ASK_MS = saved
        await finish(rig)


def test_an_offer_with_a_malformed_signature_or_size_breaks_the_protocol():
    good = {"seq": 1, "k": "fw", "v": VERSION, "size": 10, "sig": "ab" * 32}
    assert manage.decode(topics.CMD, json.dumps(good).encode())["v"] == VERSION
    for bad in (
        {"sig": "AB" * 32},
        {"sig": "ab"},
        {"size": 0},
        {"size": manage.MAX_MANIFEST + 1},
        {"v": "a/b"},
    ):
        try:
            manage.decode(topics.CMD, json.dumps(dict(good, **bad)).encode())
        except Exception as err:
            assert getattr(err, "code", None) == "bad_field", (bad, err)
        else:
            raise AssertionError("accepted %r" % (bad,))


class _Pin:
    OUT = IN = PULL_UP = 0

    def __init__(self, number, *args, **kw):
        self.number = number

    def value(self):
        return 1  # the maintenance button is not pressed


class _Machine:
    Pin = _Pin

    def reset(self):
        raise AssertionError("boot.py restarted the board")


def _run_boot_py():
    """Run boot.py as a board does; (firmware.hal as it left it, sys.path[0]). Only under
    MicroPython: it works on the filesystem's root, in-memory there."""
    import sys

    source = None
    for path in ("/boot.py", "/lib/firmware/boot.py"):  # a build's, the sources'
        if exists(path):
            with open(path) as f:
                source = f.read()
            break
    saved = {}
    for name in list(sys.modules):
        if name.split(".")[0] in ("firmware", "protocol"):
            saved[name] = sys.modules.pop(name)
    saved_path = list(sys.path)
    sys.modules["machine"] = _Machine()
    try:
        exec(source, {"__name__": "boot"})
        return sys.modules["firmware.hal"], sys.path[0]
    finally:
        for name in list(sys.modules):
            if name.split(".")[0] in ("firmware", "protocol"):
                del sys.modules[name]
        sys.modules.update(saved)
        sys.modules.pop("machine", None)
        sys.path[:] = saved_path


def test_boot_py_starts_a_version_on_trial_first_on_the_import_path_and_gives_it_up_after_its_boots():
    import sys

    if sys.implementation.name != "micropython":
        return  # it writes /ota at the filesystem's root: MicroPython's in-memory one only
    try:
        for folder in ("/ota", "/ota/a", "/ota/a/firmware"):
            ota._mkdir(folder)
        for path, text in (
            ("/ota/a/firmware/__init__.py", ""),
            ("/ota/a/firmware/hal.py", "maintenance = False\nSLOT = 'a'\n"),
            ("/ota/a/MANIFEST", "tapgift-fw 1 9.9.9\n"),
            ("/ota/trial", "a 9.9.9 %d" % (ota.TRIAL_BOOTS - 1)),
        ):
            with open(path, "w") as f:
                f.write(text)
        hal, first = _run_boot_py()
        assert first == "/ota/a" and getattr(hal, "SLOT", None) == "a"  # the update's own modules
        assert hal.ota == ("/ota/a", "9.9.9", "trial") and not hal.maintenance
        assert read("/ota/trial") == b"a 9.9.9 %d" % ota.TRIAL_BOOTS
        hal, first = _run_boot_py()  # its last boot on trial has gone by: the flashed version
        assert first != "/ota/a" and not hasattr(hal, "SLOT")
        assert hal.ota == (None, None, "back") and read("/ota/back") == b"9.9.9 restarted"
    finally:
        ota._clear("/ota")
