# Updates over the air: a new version of the firmware's modules fetched from the hub, staged
# beside the running one, started at the next boot on trial, kept once it has reached the hub,
# given up by itself if it does not. Loaded by boot.py (boot(): which version starts), by a
# "fw" command (offer(): stage it) and by an app that starts a version on trial or after one
# (watch()). docs/technicians.md, "Updates over the air", says why it is made this way.
#
# On flash (ROOT):
#   /ota/a, /ota/b  two slots, each holding a version's firmware/ and protocol/ packages and its
#                   MANIFEST; the folder goes first on sys.path, before /lib (the USB-flashed one)
#   /ota/active     "<slot> <version>": the slot that runs; none: /lib runs
#   /ota/trial      "<slot> <version> <boots>": start this slot, on trial; boots it already had
#   /ota/back       "<version> <why>": a trial that did not hold, until the hub has heard of it
#
# Power may go at any moment: a slot is named by a marker only once every file of it is on
# flash and verified, each marker is written whole (temp file, rename), and a slot is emptied
# only while no marker names it (never the active one). A half-written slot is never started.
#
# Verified before anything points at it: the manifest, by an HMAC with this device's own key
# over its SHA-256 (carried by the offer, itself a command signed with that key), then each
# file's size and SHA-256 against the manifest, hashed as its pieces arrive. Manifest (text):
#   tapgift-fw 1 <version>
#   <sha256 hex> <size> <path>      one line a file; path: check_path
#
# The hub answers each up/fw ask on dn/fw with b'<json head>\n<bytes>': a piece of a file
# {"v", "f", "o"} (or {"err": ...}), or the confirmation of a trial {"ok": version, "n": nonce}.
import asyncio
import hashlib
import json
import os

from firmware import hal
from protocol import const, topics
from protocol.ids import write_atomic

ROOT = "/ota"
MANIFEST = "MANIFEST"
TRIAL_BOOTS = 3  # boots a version gets on trial (crashes, watchdog) before the old one is back
TRIAL_MS = 120000  # how long a version on trial has to reach the hub, each boot
ASK_MS = 3000  # how long to wait for one answer before asking again
ASKS = 5  # times one piece is asked for before staging gives up
HELLO_MS = 5000  # between a trial's hellos
IDLE_MS = 3000  # every relay off this long before a staged version is started
IDLE_STEP_MS = 250
_DIR = const(0x4000)

# Why an offer was refused (its cmdack "code").
BAD_SIGNATURE = "bad_signature"  # the manifest is not what the hub signed for this device
BAD_HASH = "bad_hash"  # a file is not what the manifest says
BAD_MANIFEST = "bad_manifest"
NO_SPACE = "no_space"
FETCH_FAILED = "fetch_failed"  # the hub stopped answering, or has no such bundle
BUSY = "busy"  # staging or a trial is under way
SAME_VERSION = "same_version"


class Failed(Exception):
    pass


# --- at boot (boot.py), before any other module of ours is loaded ---------------------------


def boot(flash=""):
    """Which version starts: (folder to put first on sys.path, or None for /lib; its version,
    or None; "trial" (on trial: confirm it), "back" (a trial was given up: tell the hub) or None).
    Counts a trial's boots; after TRIAL_BOOTS the trial is given up."""
    root = flash + ROOT
    active = _read(root + "/active")
    trial = _read(root + "/trial")
    if trial is not None:
        try:
            slot, version, boots = trial[0], trial[1], int(trial[2])
        except (IndexError, ValueError):
            slot, version, boots = "", "", TRIAL_BOOTS
        if active is not None and active[0] == slot:
            _remove(root + "/trial")  # it was kept; the power went before this went
        elif boots >= TRIAL_BOOTS:
            write_atomic(root + "/back", "%s restarted" % (version or "?"))
            _remove(root + "/trial")
        elif _read(root + "/" + slot + "/" + MANIFEST) is None:
            _remove(root + "/trial")  # not there (a technician's hand?): nothing to try
        else:
            write_atomic(root + "/trial", "%s %s %d" % (slot, version, boots + 1))
            return root + "/" + slot, version, "trial"
    state = "back" if _read(root + "/back") is not None else None
    if active is not None and len(active) > 1:
        return root + "/" + active[0], active[1], state
    return None, None, state


# --- the app: a session on dn/fw --------------------------------------------------------------


class Session:
    """Asks the hub on up/fw, takes its answers on dn/fw (app.on_command hands them here)."""

    def __init__(self, app, version):
        self.app = app
        self.version = version
        link = app.link
        self.topic = topics.down(link.site, link.device, topics.FW)
        self._match = None
        self._answer = None
        self._event = asyncio.Event()

    def on_message(self, topic, payload):
        link = self.app.link
        try:
            body = link.signer.open(topic, payload)
            cut = body.find(b"\n")
            head = json.loads(body if cut < 0 else body[:cut])
            match = self._match is not None and self._match(head)
        except Exception:  # whatever arrives from the network must not crash the client
            link.invalid += 1
            return
        if not match:
            link.ignored += 1  # an answer to an ask given up, or a repeat
            return
        self._match = None
        self._answer = (head, b"" if cut < 0 else body[cut + 1 :])
        self._event.set()

    async def ask(self, body, match, wait_ms=None, tries=None):
        """Publish body on up/fw until an answer whose head match(head) comes: (head, data)."""
        topic, payload = self.app.link.seal(topics.FW, body)
        wait_ms = wait_ms or ASK_MS
        client = self.app.client
        for _ in range(tries or ASKS):
            self._event.clear()
            self._match = match
            try:
                if not client.is_connected():  # a QoS 0 ask would be dropped: wait for the link
                    await hal.wait_for_ms(client.wait_connected(), wait_ms)
                # QoS 0: an ask lost with the link is asked again after wait_ms.
                await client.publish(topic, payload, 0)
                await hal.wait_for_ms(self._event.wait(), wait_ms)
                return self._answer
            except asyncio.TimeoutError:
                pass
        self._match = None
        raise Failed(FETCH_FAILED, "no answer to %s" % body.get("f", body["k"]))


# --- staging an offer ---------------------------------------------------------------------------


def offer(app, body):
    """A "fw" command (firmware/commands.py): stage it in a task of its own; acked from there.
    Its seq is kept only then: an offer cut short by a power cut is staged again when the hub
    sends it again (it does when the device comes online)."""
    if app.ota is not None:
        if getattr(app.ota, "offer", {}).get("seq") == body["seq"]:
            return  # a repeat of the offer being staged
        _ack(app, {"seq": body["seq"], "ok": False, "code": BUSY, "detail": "an update is under way"})
        return
    stage = Stage(app, body)
    app.ota = stage
    asyncio.create_task(stage.run())


def _ack(app, ack):
    from firmware import commands

    commands.keep_seq(app.board.flash_dir, ack["seq"])
    asyncio.create_task(commands.answer(app, ack, False))


async def _restart_when_idle(app):
    """Restart once every relay has been off for IDLE_MS (a game, a kiosk session or a vend is
    never cut short; the ack has that long to reach the broker)."""
    idle = 0
    while idle < IDLE_MS:
        await hal.sleep_ms(IDLE_STEP_MS)
        idle = 0 if any(relay.value() for relay in app.board.relays) else idle + IDLE_STEP_MS
    hal.all_off(app.board.relays)
    app.board.reboot()


class Stage(Session):
    def __init__(self, app, body):
        Session.__init__(self, app, body["v"])
        self.offer = body

    async def run(self):
        seq = self.offer["seq"]
        try:
            await self.stage()
            ack = {"seq": seq, "ok": True}
        except Failed as err:
            ack = {"seq": seq, "ok": False, "code": err.args[0], "detail": str(err.args[1])[:120]}
        except Exception as err:  # the flash full (ENOSPC, 28), or anything unforeseen: acked
            full = isinstance(err, OSError) and err.args and err.args[0] == 28
            ack = {
                "seq": seq,
                "ok": False,
                "code": NO_SPACE if full else FETCH_FAILED,
                "detail": repr(err)[:120],
            }
        self.app.ota = None
        _ack(self.app, ack)
        if ack["ok"]:  # staged: the board restarts into it, on trial, once the machine is free
            await _restart_when_idle(self.app)

    async def stage(self):
        app = self.app
        version = self.version
        if version == app.fw:
            raise Failed(SAME_VERSION, version + " runs already")
        root = app.board.flash_dir + ROOT
        if _read(root + "/trial") is not None:
            raise Failed(BUSY, "a version is on trial")
        active = _read(root + "/active")
        slot = "b" if active is not None and active[0] == "a" else "a"
        folder = root + "/" + slot
        _mkdir(root)
        _clear(folder)  # what a power cut left of an earlier staging: no marker names it
        _mkdir(folder)
        await app.client.subscribe(self.topic, 1)
        digest = await self.fetch("manifest", self.offer["size"], folder + "/" + MANIFEST)
        mac = app.link.signer.mac(b"tapgift-fw\n", version.encode(), b"\n", digest)
        if not _same(mac.hex(), self.offer["sig"]):
            raise Failed(BAD_SIGNATURE, "the manifest is not the one the hub signed")
        total = 0
        for _sha, size, _path in entries(folder + "/" + MANIFEST, version):
            total += size
        free = _free(app.board.flash_dir or "/")
        if free is not None and total > free:
            raise Failed(NO_SPACE, "%d bytes, %d free" % (total, free))
        for sha, size, path in entries(folder + "/" + MANIFEST, version):
            _makedirs(folder, path)
            if (await self.fetch(path, size, folder + "/" + path)).hex() != sha:
                raise Failed(BAD_HASH, path)
        # Last: only now does anything name the slot.
        write_atomic(root + "/trial", "%s %s 0" % (slot, version))

    async def fetch(self, name, size, path):
        """Fetch file name (size bytes) into path piece by piece; its SHA-256."""
        digest = hashlib.sha256()
        offset = 0
        with open(path, "wb") as out:
            while offset < size:
                head, data = await self.ask(
                    {"k": "get", "v": self.version, "f": name, "o": offset},
                    lambda h, o=offset: h.get("f") == name and h.get("o") == o,
                )
                if "err" in head or not data:
                    raise Failed(FETCH_FAILED, "%s at %d: %s" % (name, offset, head.get("err", "empty")))
                data = data[: size - offset]
                out.write(data)
                digest.update(data)
                offset += len(data)
        return digest.digest()


def entries(path, version):
    """(sha256 hex, size, path) of each file of a manifest; Failed(BAD_MANIFEST) if malformed."""
    with open(path) as f:
        if f.readline().split() != ["tapgift-fw", "1", version]:
            raise Failed(BAD_MANIFEST, "not a manifest of " + version)
        while True:
            line = f.readline()
            if not line:
                return
            parts = line.split()
            try:
                sha, size, name = parts[0], int(parts[1]), parts[2]
            except (IndexError, ValueError):
                raise Failed(BAD_MANIFEST, line[:40])
            if len(parts) != 3 or len(sha) != 64 or sha.strip("0123456789abcdef") or size < 0:
                raise Failed(BAD_MANIFEST, line[:40])
            if not check_path(name) or name.split("/")[-1] == MANIFEST:
                raise Failed(BAD_MANIFEST, name[:40])
            yield sha, size, name


def check_path(path):
    """A file of an update: under firmware/ or protocol/, lower-case names, no way out (the
    hub's twin: protocol/hub_side.py check_fw_path)."""
    if not 0 < len(path) <= 64 or ".." in path or "//" in path or path.endswith("/"):
        return False
    if not (path.startswith("firmware/") or path.startswith("protocol/")):
        return False
    return not path.strip("abcdefghijklmnopqrstuvwxyz0123456789_./")


# --- after the boot: a version on trial, or one given up ---------------------------------------


async def watch(app, state):
    """A task of the app (firmware/app.py) when boot() said "trial" or "back". Never returns."""
    folder, version, mode = state
    flash = app.board.flash_dir
    if mode == "trial":
        session = Session(app, version)
        app.ota = session
        try:
            await hal.wait_for_ms(_hello(app, session, version), TRIAL_MS)
        except asyncio.TimeoutError:
            give_up(app, version, "no_hub")
        else:
            # Confirmed by the hub: kept. The slot is named active first, so a power cut
            # between the two leaves it kept (boot() drops a trial of the active slot).
            write_atomic(flash + ROOT + "/active", "%s %s" % (folder[-1], version))
            _remove(flash + ROOT + "/trial")
            app.ota = None
            print("tapgift: firmware %s confirmed by the hub: kept" % version)
    else:
        back = _read(flash + ROOT + "/back") or ["?"]
        topic, payload = app.link.seal(
            topics.FW, {"k": "back", "v": back[0], "why": " ".join(back[1:])[:100]}
        )
        await app.client.publish(topic, payload, 1)  # QoS 1: it waits for the broker
        _remove(flash + ROOT + "/back")
    while True:
        await hal.sleep_ms(3600000)


async def _hello(app, session, version):
    await app.client.wait_connected()
    await app.client.subscribe(session.topic, 1)  # acked by the broker before the first hello
    nonce = _nonce()
    while True:
        try:
            await session.ask(
                {"k": "hello", "v": version, "n": nonce},
                lambda h: h.get("ok") == version and h.get("n") == nonce,
                HELLO_MS,
                1,
            )
            return
        except Failed:
            pass


def give_up(app, version, why):
    """The version on trial did not hold: the old one starts again (relays off first)."""
    flash = app.board.flash_dir
    write_atomic(flash + ROOT + "/back", "%s %s" % (version, why))
    _remove(flash + ROOT + "/trial")
    print("tapgift: firmware %s did not reach the hub (%s): back to the old one" % (version, why))
    hal.all_off(app.board.relays)
    app.board.reboot()


# --- flash ---------------------------------------------------------------------------------------


def _read(path):
    try:
        with open(path) as f:
            return f.read().split() or None
    except OSError:
        return None


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass  # there already


def _makedirs(folder, path):
    parts = path.split("/")
    for i in range(1, len(parts)):
        _mkdir(folder + "/" + "/".join(parts[:i]))


def _clear(path):
    """Remove a folder and everything in it (if there)."""
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        sub = path + "/" + name
        if os.stat(sub)[0] & _DIR:
            _clear(sub)
        else:
            os.remove(sub)
    os.rmdir(path)


def _free(path):
    try:
        st = os.statvfs(path)
        return st[1] * st[4]
    except (AttributeError, OSError):
        return None


def _same(a, b):
    """Compare two strings in a time that does not tell where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= ord(a[i]) ^ ord(b[i])
    return diff == 0


def _nonce():
    try:
        return os.urandom(8).hex()
    except AttributeError:  # the WebAssembly port
        import random

        return "%08x%08x" % (random.getrandbits(32), random.getrandbits(32))
