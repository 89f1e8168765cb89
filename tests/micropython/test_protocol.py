# Protocol tests that run unchanged under CPython (pytest) and under the real
# MicroPython interpreter (hil/micropython/runner.mjs): plain asserts, no
# fixtures, nothing beyond what MicroPython has.
import asyncio
import binascii
import os

from protocol import (
    BAD_FIELD,
    BAD_FRAME,
    BAD_JSON,
    BAD_TAG,
    BAD_TOPIC,
    TOO_LARGE,
    ProtocolError,
    hub_side,
    ids,
    manage,
    messages,
    topics,
)
from protocol.signing import Signer, split

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
TOPIC = "tg/park1/dev1/up/tap"
TAP = b'{"id": "3-17", "card": "04A1B2C3D4", "units": 2}'


def _error(fn, *args):
    """The ProtocolError fn raises (None if it raises nothing)."""
    try:
        fn(*args)
    except ProtocolError as e:
        return e
    return None


def _code(fn, *args):
    e = _error(fn, *args)
    return e.code if e else None


def _unhex(s):
    return binascii.unhexlify(s)


def _hex(b):
    return binascii.hexlify(b).decode()


# --- HMAC-SHA256: RFC 4231 test vectors -------------------------------------


def test_hmac_rfc4231_case1():
    mac = Signer(b"\x0b" * 20).mac(b"Hi There")
    assert _hex(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"


def test_hmac_rfc4231_case2():
    mac = Signer(b"Jefe").mac(b"what do ya want for nothing?")
    assert _hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_rfc4231_case3():
    mac = Signer(b"\xaa" * 20).mac(b"\xdd" * 50)
    assert _hex(mac) == "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"


def test_hmac_rfc4231_case4():
    key = bytes(range(1, 26))
    mac = Signer(key).mac(b"\xcd" * 50)
    assert _hex(mac) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"


def test_hmac_rfc4231_case6_key_longer_than_block():
    mac = Signer(b"\xaa" * 131).mac(b"Test Using Larger Than Block-Size Key - Hash Key First")
    assert _hex(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_hex_key_equals_raw_key():
    assert Signer(KEY).mac(b"x") == Signer(_unhex(KEY)).mac(b"x")


def test_tag_is_hmac_of_topic_newline_body():
    s = Signer(KEY)
    assert s.tag(TOPIC, TAP) == binascii.hexlify(s.mac(TOPIC.encode() + b"\n" + TAP))


# --- seal / open -------------------------------------------------------------


def test_seal_open_round_trip():
    s = Signer(KEY)
    payload = s.seal(TOPIC, TAP)
    assert payload.startswith(TAP + b"#")
    assert len(payload) == len(TAP) + 65
    assert s.open(TOPIC, payload) == TAP
    assert s.open(TOPIC, bytearray(payload)) == TAP


def test_tampered_body_is_refused():
    s = Signer(KEY)
    payload = s.seal(TOPIC, TAP).replace(b'"units": 2', b'"units": 9')
    assert _code(s.open, TOPIC, payload) == BAD_TAG


def test_tampered_tag_is_refused():
    s = Signer(KEY)
    payload = bytearray(s.seal(TOPIC, TAP))
    payload[-1] = ord("0") if payload[-1] != ord("0") else ord("1")
    assert _code(s.open, TOPIC, bytes(payload)) == BAD_TAG


def test_other_topic_is_refused():
    s = Signer(KEY)
    payload = s.seal(TOPIC, TAP)
    assert _code(s.open, "tg/park1/dev2/up/tap", payload) == BAD_TAG


def test_other_key_is_refused():
    payload = Signer(KEY).seal(TOPIC, TAP)
    assert _code(Signer(b"another key").open, TOPIC, payload) == BAD_TAG


def test_truncated_frames_are_bad_frames():
    s = Signer(KEY)
    payload = s.seal(TOPIC, TAP)
    assert _code(s.open, TOPIC, payload[:-1]) == BAD_FRAME
    assert _code(s.open, TOPIC, payload[:20]) == BAD_FRAME
    assert _code(s.open, TOPIC, payload[-65:]) == BAD_FRAME  # a tag with no body
    assert _code(s.open, TOPIC, b"") == BAD_FRAME
    assert _code(split, TAP) == BAD_FRAME
    assert _code(split, "not bytes" * 20) == BAD_FRAME


# --- topics ------------------------------------------------------------------


def test_topics_build_and_parse():
    assert topics.up("park1", "dev1", topics.TAP) == TOPIC
    assert topics.down("park1", "dev1") == "tg/park1/dev1/dn/reply"
    assert hub_side.parse(TOPIC) == ("park1", "dev1", "up", "tap")
    assert hub_side.parse("tg/park1/dev1/dn/reply") == ("park1", "dev1", "dn", "reply")


def test_bad_site_ids_are_refused():
    for site in ("a/b", "+", "#", "park#1", "park+", "x" * 41, "", "p\u00e4rk", None, 5):
        assert not topics.valid_id(site), site
        assert _code(topics.up, site, "dev1", topics.TAP) == BAD_TOPIC, site
        assert _code(topics.down, "park1", site) == BAD_TOPIC, site
    assert topics.valid_id("x" * 40)
    assert topics.valid_id("Park_1.north-gate")


def test_bad_topics_do_not_parse():
    for topic in (
        "tg/park1/dev1/up",
        "tg/park1/dev1/up/tap/x",
        "xx/park1/dev1/up/tap",
        "tg/+/dev1/up/tap",
        "tg/park1/#/up/tap",
        "tg/park1/dev1/sideways/tap",
        "tg/park1/dev1/up/reply",
        "tg/park1/dev1/dn/tap",
        "tg/" + "x" * 41 + "/dev1/up/tap",
        "",
    ):
        assert _code(hub_side.parse, topic) == BAD_TOPIC, topic


# --- message validation -----------------------------------------------------


def _decode(kind, body):
    """A controller decodes replies (messages); the hub what controllers send (hub_side)."""
    if kind == topics.REPLY:
        return messages.decode(kind, body)
    return hub_side.decode(kind, body)


def _field_error(kind, body):
    e = _error(_decode, kind, body)
    assert e is not None, body
    assert e.code == BAD_FIELD, (e.code, body)
    return e.detail


def test_valid_bodies_decode():
    assert hub_side.decode(topics.TAP, TAP) == {"id": "3-17", "card": "04A1B2C3D4", "units": 2}
    assert hub_side.decode(topics.REPORT, b'{"id": "3-18", "hold": "h-1", "delivered": 0}')["delivered"] == 0
    assert hub_side.decode(topics.STATUS, b'{"state": "online", "fw": "0.1.0"}')["state"] == "online"
    replies = (
        b'{"k": "grant", "re": "3-17", "hold": "h-1", "units": 2, "amount": 500, "balance": 1500}',
        b'{"k": "deny", "re": "3-17", "code": "insufficient_funds", "balance": 100}',
        b'{"k": "ack", "re": "3-18", "posted": 250, "voided": 250}',
        b'{"k": "error", "re": "3-18", "code": "unknown_hold"}',
    )
    for body in replies:
        assert messages.decode(topics.REPLY, body)["re"] in ("3-17", "3-18")


def test_encode_decode_round_trip():
    body = {"id": "1-1", "card": "04:A1:B2:C3", "units": 1000}
    assert hub_side.decode(topics.TAP, messages.encode(body)) == body


def test_tap_missing_fields():
    assert _field_error(topics.TAP, b'{"card": "04A1B2C3", "units": 1}') == "missing id"
    assert _field_error(topics.TAP, b'{"id": "1-1", "units": 1}') == "missing card"
    assert _field_error(topics.TAP, b'{"id": "1-1", "card": "04A1B2C3"}') == "missing units"


def test_tap_wrong_types():
    assert _field_error(topics.TAP, b'{"id": 11, "card": "04A1B2C3", "units": 1}') == "id has the wrong type"
    assert _field_error(topics.TAP, b'{"id": "1-1", "card": 1234, "units": 1}') == "card has the wrong type"
    assert (
        _field_error(topics.TAP, b'{"id": "1-1", "card": "04A1B2C3", "units": "1"}')
        == "units must be an integer"
    )
    assert (
        _field_error(topics.TAP, b'{"id": "1-1", "card": "04A1B2C3", "units": 1.0}')
        == "units must be an integer"
    )


def test_bool_is_not_an_int():
    assert (
        _field_error(topics.TAP, b'{"id": "1-1", "card": "04A1B2C3", "units": true}')
        == "units must be an integer"
    )
    report = b'{"id": "1-1", "hold": "h-1", "delivered": false}'
    assert _field_error(topics.REPORT, report) == "delivered must be an integer"


def test_out_of_range():
    for units in (b"-1", b"1001"):
        body = b'{"id": "1-1", "card": "04A1B2C3", "units": ' + units + b"}"
        assert _field_error(topics.TAP, body) == "units out of range", units
    assert (
        _field_error(topics.REPORT, b'{"id": "1-1", "hold": "h", "delivered": -1}')
        == "delivered out of range"
    )
    assert (
        hub_side.decode(topics.REPORT, b'{"id": "1-1", "hold": "h", "delivered": 1000}')["delivered"] == 1000
    )


def test_bad_request_ids_cards_holds_states():
    assert (
        _field_error(topics.TAP, b'{"id": "abc", "card": "04A1B2C3", "units": 1}') == "id is not a request id"
    )
    assert _field_error(topics.TAP, b'{"id": "1-1", "card": "04A", "units": 1}') == "card length"
    assert _field_error(topics.TAP, b'{"id": "1-1", "card": "04 A1 B2", "units": 1}') == "card characters"
    assert _field_error(topics.REPORT, b'{"id": "1-1", "hold": "", "delivered": 1}') == "hold"
    assert _field_error(topics.STATUS, b'{"state": "sleeping"}') == "state"


def test_replies():
    assert _field_error(topics.REPLY, b'{"k": "maybe", "re": "1-1"}') == "k"
    assert _field_error(topics.REPLY, b'{"re": "1-1", "code": "x"}') == "missing k"
    assert _field_error(topics.REPLY, b'{"k": "deny", "re": "x", "code": "x"}') == "re is not a request id"
    grant = b'{"k": "grant", "re": "1-1", "hold": "h", "units": 1}'
    assert _field_error(topics.REPLY, grant) == "missing amount"
    assert (
        _field_error(topics.REPLY, b'{"k": "ack", "re": "1-1", "posted": "5"}') == "posted must be an integer"
    )
    assert _field_error(topics.REPLY, b'{"k": "error", "re": "1-1"}') == "missing code"


def test_units_zero_is_a_balance_enquiry():
    body = hub_side.decode(topics.TAP, b'{"id": "1-1", "card": "04A1B2C3", "units": 0}')
    assert body["units"] == 0


SUN = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086"}


def _tap(**extra):
    body = {"id": "1-1", "card": "04A1B2C3", "units": 1}
    body.update(extra)
    return messages.encode(body)


def test_tap_carries_sun_data():
    assert hub_side.decode(topics.TAP, _tap(sun=SUN))["sun"] == SUN
    full = {"enc": "AB" * 16, "cmac": "0f" * 8, "uid": "04DE5F1EACC040", "ctr": "3D0000"}
    assert hub_side.decode(topics.TAP, _tap(sun=full))["sun"] == full
    assert hub_side.decode(topics.TAP, _tap(sun={"cmac": "A" * 64}))["sun"]["cmac"] == "A" * 64


def test_bad_sun_data_is_a_bad_field():
    assert _field_error(topics.TAP, _tap(sun="EF96")) == "sun must be a non-empty object"
    assert _field_error(topics.TAP, _tap(sun={})) == "sun must be a non-empty object"
    assert _field_error(topics.TAP, _tap(sun=["cmac"])) == "sun must be a non-empty object"
    assert _field_error(topics.TAP, _tap(sun={"cmac": "94EE", "url": "ab"})) == "sun.url is not a SUN field"
    for value in ("", "A" * 65, "94EG", 1234, None, "94 EE"):
        detail = _field_error(topics.TAP, _tap(sun={"cmac": value}))
        assert detail == "sun.cmac must be 1..64 hex digits", (value, detail)


def _report(**fields):
    body = {"id": "2-9"}
    body.update(fields)
    return messages.encode(body)


def test_offline_report_decodes():
    body = hub_side.decode(topics.REPORT, _report(off="1-4", card="04A1B2C3", delivered=2, ago=40))
    assert (body["off"], body["card"], body["delivered"], body["ago"]) == ("1-4", "04A1B2C3", 2, 40)
    assert "ago" not in hub_side.decode(topics.REPORT, _report(off="1-4", card="04A1B2C3", delivered=1))
    assert hub_side.decode(topics.REPORT, _report(off="1-4", card="04A1B2C3", delivered=1, ago=0))["ago"] == 0


def test_bad_offline_reports():
    off = {"off": "1-4", "card": "04A1B2C3", "delivered": 1}

    def err(**changes):
        body = dict(off)
        body.update(changes)
        for name in [n for n in body if body[n] is None]:
            del body[name]
        return _field_error(topics.REPORT, _report(**body))

    assert err(delivered=0) == "delivered out of range"
    assert err(delivered=1001) == "delivered out of range"
    assert err(off="x") == "off is not a request id"
    assert err(off=7) == "off has the wrong type"
    assert err(card=None) == "missing card"
    assert err(card="04") == "card length"
    assert err(ago=-1) == "ago out of range"
    assert err(ago="5") == "ago must be an integer"
    assert err(hold="h-1") == "hold and off are exclusive"
    assert _field_error(topics.REPORT, _report(card="04A1B2C3", delivered=1)) == "missing hold"


def _topup(**changes):
    body = {"id": "3-20", "ev": "3-11", "card": "04A1B2C3", "amount": 500}
    body.update(changes)
    for name in [n for n in body if body[n] is None]:
        del body[name]
    return messages.encode(body)


def test_topup_decodes():
    assert hub_side.parse("tg/park/kiosk-1/up/topup") == ("park", "kiosk-1", "up", topics.TOPUP)
    body = hub_side.decode(topics.TOPUP, _topup())
    assert (body["ev"], body["card"], body["amount"]) == ("3-11", "04A1B2C3", 500)


def test_bad_topups():
    assert _field_error(topics.TOPUP, _topup(ev=None)) == "missing ev"
    assert _field_error(topics.TOPUP, _topup(ev="first")) == "ev is not a request id"
    assert _field_error(topics.TOPUP, _topup(id=None)) == "missing id"
    assert _field_error(topics.TOPUP, _topup(card="04 A1")) == "card characters"
    assert _field_error(topics.TOPUP, _topup(amount=0)) == "amount out of range"
    assert _field_error(topics.TOPUP, _topup(amount=-5)) == "amount out of range"
    assert _field_error(topics.TOPUP, _topup(amount=100000001)) == "amount out of range"
    assert _field_error(topics.TOPUP, _topup(amount=5.0)) == "amount must be an integer"
    assert _field_error(topics.TOPUP, _topup(amount=True)) == "amount must be an integer"
    # Only a controller publishes a top-up: the hub never sends one down.
    assert _code(hub_side.parse, "tg/park/kiosk-1/dn/topup") == BAD_TOPIC


def test_ack_extras_are_integers():
    ack = b'{"k": "ack", "re": "3-18", "posted": 500, "voided": 0, "bonus": 50, "balance": 1550, "short": 0}'
    body = messages.decode(topics.REPLY, ack)
    assert (body["bonus"], body["balance"], body["short"]) == (50, 1550, 0)
    for name in ("balance", "bonus", "short"):
        bad = b'{"k": "ack", "re": "3-18", "posted": 0, "%s": "7"}' % name.encode()
        assert _field_error(topics.REPLY, bad) == name + " must be an integer"


def test_bad_sun_is_a_reason_code():
    assert messages.BAD_SUN == "bad_sun"
    deny = b'{"k": "deny", "re": "3-17", "code": "bad_sun"}'
    assert messages.decode(topics.REPLY, deny)["code"] == messages.BAD_SUN


def test_unknown_message_kind():
    assert _field_error("bogus", b"{}").startswith("unknown kind")


def test_each_decoder_checks_only_its_own_kinds():
    # A controller decodes replies (messages) and commands (manage); the hub
    # what controllers send (hub_side, health and cmdack through manage).
    tap = messages.encode({"id": "1-1", "card": "04A1B2C3", "units": 1})
    for kind in (
        topics.TAP,
        topics.REPORT,
        topics.TOPUP,
        topics.STATUS,
        topics.HEALTH,
        topics.CMD,
        topics.CMDACK,
        "bogus",
    ):
        assert _code(messages.decode, kind, tap) == BAD_TOPIC, kind
    for kind in (topics.TAP, topics.REPLY, topics.STATUS, "bogus"):
        assert _code(manage.decode, kind, tap) == BAD_TOPIC, kind
    for kind in (topics.REPLY, topics.CMD):
        assert _code(hub_side.decode, kind, tap) == BAD_FIELD, kind
    health = {
        "uptime_seconds": 5,
        "free_heap_bytes": None,
        "rssi": -60,
        "reconnects": 0,
        "reader_resets": 0,
        "journal_depth": 0,
        "fw": "0.1.0",
    }
    assert hub_side.decode(topics.HEALTH, messages.encode(health)) == health
    assert manage.decode(topics.HEALTH, messages.encode(health)) == health
    assert hub_side.decode(topics.CMDACK, b'{"seq": 7, "ok": true}')["ok"] is True
    assert _code(hub_side.decode, topics.CMDACK, b'{"seq": 7, "ok": false}') == BAD_FIELD
    assert manage.decode(topics.CMD, b'{"seq": 1, "k": "reboot"}')["k"] == manage.REBOOT


def test_parse_is_the_check_every_decoder_shares():
    assert messages.parse(b'{"a": 1}') == {"a": 1}
    assert _code(messages.parse, b"[1]") == BAD_JSON
    assert _code(messages.parse, b"x" * (messages.MAX_BODY + 1)) == TOO_LARGE
    big = b'{"seq": 1, "k": "reboot", "x": "' + b"y" * messages.MAX_BODY + b'"}'
    assert _code(manage.decode, topics.CMD, big) == TOO_LARGE
    assert _code(messages.decode, topics.REPLY, b"not json") == BAD_JSON


def test_new_keys_are_fresh_and_usable():
    if not hasattr(os, "urandom"):
        return  # the hub makes keys, on CPython; the wasm port has no os.urandom
    a, b = hub_side.new_key_hex(), hub_side.new_key_hex()
    assert len(a) == 64 and a != b
    assert Signer(a).open(TOPIC, Signer(a).seal(TOPIC, TAP)) == TAP


def test_non_json_is_refused():
    for body in (b"not json", b"{", b"", b'{"id": "1-1"} x'):
        assert _code(hub_side.decode, topics.TAP, body) == BAD_JSON, body
    for body in (b"[1, 2]", b'"text"', b"12"):
        assert _code(hub_side.decode, topics.TAP, body) == BAD_JSON, body


def test_malformed_json_is_refused_by_both_parsers():
    # MicroPython's json is lenient (b'{"id": }' parses as {}, trailing commas
    # pass), so such bodies are refused by validation there, by the parser in CPython.
    for body in (b'{"id": }', b'{"id": "1-1", "card": "04A1B2C3",}', b"{,}"):
        assert _code(hub_side.decode, topics.TAP, body) in (BAD_JSON, BAD_FIELD), body


def test_deeply_nested_json_is_refused_as_bad_json():
    # CPython's json raises RecursionError near 1,000 levels; MicroPython's
    # parses iteratively. Either way the decoder answers with a ProtocolError.
    for body in (
        b"[" * 1000,
        b"[" * 512 + b"]" * 512,
        b'{"a":' * 170 + b"1" + b"}" * 170,
        b'{"id": "1-1", "card": "04A1B2C3", "units": 1, "x": ' + b"[" * 970,
    ):
        assert len(body) <= messages.MAX_BODY
        assert _code(hub_side.decode, topics.TAP, body) in (BAD_JSON, BAD_FIELD), body[:20]
        assert _code(messages.decode, topics.REPLY, body) in (BAD_JSON, BAD_FIELD), body[:20]
        assert _code(manage.decode, topics.CMD, body) in (BAD_JSON, BAD_FIELD), body[:20]
    assert _code(messages.parse, b"[" * 1000) == BAD_JSON


def test_too_large_is_refused_before_parsing():
    head = b'{"id": "1-1", "card": "04A1B2C3", "units": 1}'
    at_limit = head[:-1] + b" " * (messages.MAX_BODY - len(head)) + b"}"
    assert len(at_limit) == messages.MAX_BODY
    assert hub_side.decode(topics.TAP, at_limit)["units"] == 1
    assert _code(hub_side.decode, topics.TAP, at_limit + b" ") == TOO_LARGE
    assert _code(hub_side.decode, topics.TAP, b"x" * 5000) == TOO_LARGE


def test_receive_verifies_then_decodes():
    s = Signer(KEY)
    payload = s.seal(TOPIC, TAP)
    signers = {("park1", "dev1"): s}
    lookup = lambda site, device: signers.get((site, device))  # noqa: E731
    site, device, kind, body = hub_side.receive(lookup, TOPIC, payload)
    assert (site, device, kind, body["units"]) == ("park1", "dev1", "tap", 2)
    assert _code(hub_side.receive, lookup, "tg/park1/dev9/up/tap", payload) == messages.UNKNOWN_DEVICE
    assert _code(hub_side.receive, lookup, "tg/park1/dev1/up/report", payload) == BAD_TAG
    assert _code(hub_side.receive, lookup, "tg/park1/dev1/up/nope", payload) == BAD_TOPIC


# --- request ids ---------------------------------------------------------------


def _temp_dir():
    try:
        import tempfile

        return tempfile.mkdtemp()
    except ImportError:  # MicroPython: /tmp exists in the wasm port's filesystem
        return "/tmp"


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def test_request_ids_never_repeat_across_reboots():
    path = _temp_dir() + "/boot_counter"
    _remove(path)
    seen = set()
    for _boot in range(5):
        rids = ids.RequestIds(path)  # a reboot: a fresh object reads the counter
        for _ in range(50):
            rid = rids.next()
            assert ids.valid(rid), rid
            assert rid not in seen, rid
            seen.add(rid)
    assert len(seen) == 250
    assert ids.RequestIds(path).boot == 6
    _remove(path)


def test_request_ids_survive_a_leftover_temp_file_and_seq_wrap():
    path = _temp_dir() + "/boot_counter_wrap"
    _remove(path)
    with open(path + ".tmp", "w") as f:
        f.write("garbage from a power cut")
    first = ids.RequestIds(path)
    a = first.next()
    first.seq = ids._MAX_SEQ
    b = first.next()  # wraps onto a fresh, persisted boot number
    second = ids.RequestIds(path)
    c = second.next()
    assert len(set((a, b, c))) == 3
    assert second.boot > first.boot
    _remove(path)
    _remove(path + ".tmp")


def test_request_id_syntax():
    for good in ("1-1", "3-17", "123456789-2147483647", "1.0a1b2c3d4e-1", "2147483647.ffffffffff-2147483647"):
        assert ids.valid(good), good
    for bad in ("", "1", "1-", "-1", "a-1", "1-1-1", "1 -1", "1-" + "9" * 30, None, 17):
        assert not ids.valid(bad), bad
    for bad in (
        "1.-1",
        "1.0a1b2c3d4-1",
        "1.0a1b2c3d4e5-1",
        "1.0A1B2C3D4E-1",
        "1.0a1b2c3d4g-1",
        ".0a1b2c3d4e-1",
    ):
        assert not ids.valid(bad), bad
    for bad in ("1.0a1b2c3d4e.1-1", "01.0a1b2c3d4e-1", "1.0a1b2c3d4e-01"):
        assert not ids.valid(bad), bad


def test_request_ids_never_repeat_after_the_flash_is_erased():
    """A replaced board or erase_flash: the boot counter is gone, the ids are still new."""
    path = _temp_dir() + "/boot_counter_erased"
    seen = set()
    for _board in range(20):
        _remove(path)  # the flash erased: the counter starts again at 1
        rids = ids.RequestIds(path)
        assert rids.boot == 1
        for _ in range(5):
            rid = rids.next()
            assert ids.valid(rid), rid
            assert rid not in seen, rid
            seen.add(rid)
    assert len(seen) == 100
    _remove(path)


def test_renew_gives_ids_never_handed_out_in_this_boot():
    path = _temp_dir() + "/boot_counter_renew"
    _remove(path)
    rids = ids.RequestIds(path)
    before = [rids.next() for _ in range(3)]
    nonce = rids.nonce
    rids.renew()
    after = [rids.next() for _ in range(3)]
    assert rids.nonce != nonce and rids.boot == 1
    assert not set(before) & set(after)
    assert after[0].endswith("-1")
    _remove(path)


def test_request_ids_are_ascii_digits_only():
    # str.isdigit is true for Arabic-Indic digits and superscripts in CPython.
    for bad in ("\u0661-\u0662", "1-\u00b3", "\uff11-1", "1-\u0967", "+1-1", "1-1 ", "1_0-1", "01-1"):
        assert not ids.valid(bad), bad
    for good in ("0-0", "1-2147483647", "12345678901-123456789012"):
        assert ids.valid(good), good
    tap = '{"id": "\u0661-\u0662", "card": "04A1B2C3", "units": 1}'.encode()
    assert _field_error(topics.TAP, tap) == "id is not a request id"


# --- async: proves awaiting works in both runners --------------------------------


async def test_seal_and_open_across_tasks():
    s = Signer(KEY)
    results = []

    async def device():
        await asyncio.sleep(0)
        results.append(s.seal(TOPIC, TAP))

    await asyncio.gather(device(), device())
    assert len(results) == 2
    for payload in results:
        assert s.open(TOPIC, payload) == TAP
