# Commands from the hub on dn/cmd (bodies: protocol/manage.py), loaded with the
# first one: commands are rare and the heap is small. A command is obeyed only
# if it was not retained (link.py drops those), its tag is right and its seq is
# above the last one applied, which is kept on flash: a recorded command cannot
# be replayed, not even after a reboot. Each one is answered with an up/cmdack.
#
#   config  sets profile fields (not kind). The whole provisioning is checked with
#           firmware/config.py's rules, then the provisioning file is rewritten
#           (temp + rename), so the change holds after a reboot; the running
#           profile changes at once.
#   deny    changes the deny list (cards refused without asking the hub), kept
#           on flash in DENY_FILE.
#   reboot  acknowledged first, then the board restarts with the relays off.
#   network new Wi-Fi / broker address / CA: checked, written for the next boot with the
#           old settings kept, acknowledged, then the board restarts; the old settings
#           come back by themselves if the new ones do not reach the broker (network_trial).
#   fw      an update: staged by firmware/ota.py in a task of its own, acked once staged (or
#           refused), then the board restarts into it, on trial.
import asyncio
import json

from firmware import hal
from firmware.controller import DENY_FILE, DenyList
from protocol import ProtocolError, manage, messages, topics
from protocol.ids import write_atomic

SEQ_FILE = "/cmdseq"
_ACK_WAIT_MS = 3000  # how long a reboot waits for its ack to reach the broker


def on_message(app, topic, payload):
    link = app.link
    if topic != topics.down(link.site, link.device, topics.CMD):
        link.ignored += 1
        return
    body = link.open(topics.CMD, topic, payload, manage)
    if body is None:
        return
    flash = app.board.flash_dir
    if body["seq"] <= last_seq(flash):
        link.ignored += 1  # a replay, or a repeat of one applied before
        return
    if body["k"] == manage.FW:
        from firmware import ota

        ota.offer(app, body)  # staged in a task of its own, which keeps the seq once done
        return
    ack = apply(app, body)
    # Kept after applying: a power cut in between makes the hub's repeat apply
    # it again, which config and deny changes allow. A reboot comes after this.
    write_atomic(flash + SEQ_FILE, str(body["seq"]))
    reboot = body["k"] == manage.REBOOT or (body["k"] == manage.NETWORK and ack["ok"])
    asyncio.create_task(answer(app, ack, reboot))


def keep_seq(flash, seq):
    """A command's seq is applied (never lowered: commands may end out of order)."""
    if seq > last_seq(flash):
        write_atomic(flash + SEQ_FILE, str(seq))


def last_seq(flash):
    try:
        with open(flash + SEQ_FILE) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def apply(app, body):
    """Carry out one command; returns its ack body."""
    kind = body["k"]
    try:
        if kind == manage.CONFIG:
            set_config(app, body["set"])
        elif kind == messages.DENY:
            update_deny(app.controller.deny, app.board.flash_dir, body)
        elif kind == manage.NETWORK:
            set_network(app.board.flash_dir, body["set"])
    except ProtocolError as err:
        return {"seq": body["seq"], "ok": False, "code": err.code, "detail": err.detail}
    return {"seq": body["seq"], "ok": True}


def set_config(app, changes):
    from firmware import config  # only for this: the board dropped it after start-up

    if "kind" in changes:
        raise ProtocolError(manage.BAD_CONFIG, "profile.kind cannot change remotely")
    path = app.board.flash_dir + config.PATH
    try:
        with open(path) as f:
            data = json.loads(f.read())
        profile = dict(data.get("profile", {}))
        profile.update(changes)
        data["profile"] = profile
        cfg = config.from_dict(data)
    except (OSError, ValueError, AttributeError) as err:
        raise ProtocolError(manage.BAD_CONFIG, "provisioning file: %s" % err)
    except config.ConfigError as err:
        raise ProtocolError(manage.BAD_CONFIG, str(err))
    write_atomic(path, json.dumps(data))
    # In place: the controller and the machine profile hold this dict.
    app.cfg.profile.update(cfg.profile)
    app.link.reply_timeout_ms = cfg.profile["reply_timeout_ms"]
    app.link.retries = cfg.profile["retries"]


OLD_PROVISION = "/provision.old.json"  # the settings before a network command, until confirmed
TRIAL = "/network.trial"  # boots made with new network settings not yet confirmed
TRIAL_MS = 120000  # how long the new settings have to reach the broker, each boot
TRIAL_BOOTS = 3  # boots (crashes, watchdog) the new settings get before the old come back


def set_network(flash, changes):
    """New Wi-Fi, broker address (the device keeps its own user and password) and/or CA,
    checked with firmware/config.py's rules and written for the next boot; the old
    provisioning is kept beside it until the new settings reach the broker
    (network_trial), and comes back if they do not."""
    from firmware import config

    path = flash + config.PATH
    try:
        with open(path) as f:
            data = json.loads(f.read())
        new = dict(data)
        if "wifi" in changes:
            new["wifi"] = changes["wifi"]
        if "broker" in changes:
            old = config.parse_broker(data["broker"])
            given = config.parse_broker(changes["broker"])
            if given["user"] or given["password"]:
                raise config.ConfigError("give the broker without user:password: the device keeps its own")
            login = "%s:%s@" % (old["user"], old["password"]) if old["user"] else ""
            scheme = "mqtts" if given["tls"] else "mqtt"
            new["broker"] = "%s://%s%s:%d" % (scheme, login, given["host"], given["port"])
        if "ca" in changes:
            new["ca"] = changes["ca"]
        config.from_dict(new)
    except (OSError, ValueError, AttributeError, KeyError) as err:
        raise ProtocolError(manage.BAD_CONFIG, "provisioning file: %s" % err)
    except config.ConfigError as err:
        raise ProtocolError(manage.BAD_CONFIG, str(err))
    # In this order: a power cut at any point leaves settings that work or a trial that ends.
    write_atomic(flash + OLD_PROVISION, json.dumps(data))
    write_atomic(flash + TRIAL, "0")
    write_atomic(path, json.dumps(new))


async def network_trial(app):
    """Run at a boot that finds TRIAL (firmware.app): the new network settings reach the
    broker within TRIAL_MS (confirmed: the old ones are dropped), or the old ones come back
    and the board restarts with them. Never returns (the app's tasks must not)."""
    flash = app.board.flash_dir
    try:
        with open(flash + TRIAL) as f:
            tries = int(f.read() or "0") + 1
    except (OSError, ValueError):
        tries = 1
    write_atomic(flash + TRIAL, str(tries))
    confirmed = False
    if tries <= TRIAL_BOOTS:
        try:
            await hal.wait_for_ms(app.client.wait_connected(), TRIAL_MS)
            confirmed = True
        except asyncio.TimeoutError:
            pass
    if confirmed:
        for name in (TRIAL, OLD_PROVISION):
            _remove(flash + name)
        print("tapgift: new network settings reached the broker: kept")
    else:
        import os

        from firmware import config

        os.rename(flash + OLD_PROVISION, flash + config.PATH)
        _remove(flash + TRIAL)
        print("tapgift: new network settings did not reach the broker: back to the old ones")
        hal.all_off(app.board.relays)
        app.board.reboot()
    while True:
        await hal.sleep_ms(3600000)


def _remove(path):
    import os

    try:
        os.remove(path)
    except OSError:
        pass


def update_deny(deny, flash, body):
    cards = DenyList("," if body.get("clear") else deny.text)
    cards.update(body.get("add", ()))
    for card in body.get("remove", ()):
        cards.discard(card)
    if len(cards) > manage.MAX_DENY:
        raise ProtocolError(manage.DENY_FULL, "%d cards (at most %d)" % (len(cards), manage.MAX_DENY))
    write_atomic(flash + DENY_FILE, cards.text)
    deny.text = cards.text  # in place: the controller holds this list


async def answer(app, ack, reboot):
    topic, payload = app.link.seal(topics.CMDACK, ack)
    # Its own task, never cancelled: it stays queued in the client and goes out
    # after reconnecting (a cancelled publish would be dropped).
    sent = asyncio.create_task(app.client.publish(topic, payload, 1))
    if reboot:
        waited = 0
        while not sent.done() and waited < _ACK_WAIT_MS:
            await hal.sleep_ms(100)
            waited += 100
        hal.all_off(app.board.relays)
        app.board.reboot()
