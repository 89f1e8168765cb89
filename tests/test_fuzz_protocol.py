"""Fuzzing what comes off the network: the protocol's decoders (the same files
the boards run) and the firmware's MQTT packet parser. Only the documented
errors may come out: ProtocolError with one of its codes from protocol/, and
from firmware/mqtt.py's parser the link errors that close the connection
(MQTTError for a malformed packet, EOFError for a stream that ends).

CI runs a fixed, deterministic budget (the whole file in well under 30 s).
A longer, random run on demand: TAPGIFT_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_protocol.py
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol
from firmware import mqtt as fw_mqtt
from protocol import ProtocolError, hub_side, ids, manage, messages, topics
from protocol.signing import Signer, split

_ON_DEMAND = os.environ.get("TAPGIFT_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_ON_DEMAND or 300),
    derandomize=not _ON_DEMAND,  # CI: the same examples every run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CODES = {
    protocol.BAD_TOPIC,
    protocol.BAD_FRAME,
    protocol.BAD_TAG,
    protocol.BAD_JSON,
    protocol.BAD_FIELD,
    protocol.TOO_LARGE,
    messages.UNKNOWN_DEVICE,
}
KINDS = [
    topics.TAP,
    topics.REPORT,
    topics.TOPUP,
    topics.STATUS,
    topics.HEALTH,
    topics.CMDACK,
    topics.CMD,
    topics.REPLY,
]
FIELDS = [
    "id", "re", "k", "card", "units", "hold", "delivered", "off", "ago", "ev", "amount", "state",
    "dir", "sun", "posted", "balance", "bonus", "short", "code", "seq", "ok", "set", "add",
    "remove", "clear", "fw", "uptime_seconds", "free_heap_bytes", "rssi", "reconnects",
    "reader_resets", "journal_depth", "picc_data", "cmac",
]  # fmt: skip
DEFAULT_RECURSION_LIMIT = 1000  # CPython's
KEY = "5a" * 32
SIGNER = Signer(KEY)

# --- strategies -------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, 1, -1, 1000, 1001, 0x7FFFFFFF, 2**31, 2**63, -(2**63), 10**30])
    | st.floats()
    | st.text(max_size=70)
    | st.sampled_from(["1-1", "3-17", "\u0661-\u0662", "1-\u00b3", "04A1B2C3", "online", "grant", "deny"])
    | st.sampled_from(["ack", "config", "reboot", "entry", "exit", "h-1", "EF96", "a" * 65])
)
# Request ids: ASCII and other Unicode digits (str.isdigit takes "\u0661" and "\u00b3").
digits = st.text(st.characters(categories=("Nd", "No")) | st.sampled_from("0123456789"), max_size=5)
request_ids = st.builds(lambda a, b: a + "-" + b, digits, digits) | st.sampled_from(["1-1", "0-0", "1-"])
scalars |= request_ids
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(FIELDS) | st.text(), inner),
    max_leaves=20,
)
# Objects with the protocol's field names: they get past parse() into the checks.
bodies_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
# Messages that are right but for a field or two: they reach the deepest checks.
cards = st.sampled_from(["04A1B2C3", "04a1b2c3d4e5f6", "x" * 64, "abc", "x" * 65, "04 A1", "04A1\u00e9"])
counts = st.sampled_from([0, 1, 2, 1000, 1001, -1, True, 1.0, "1", None])
hex_values = st.sampled_from(["EF96", "ef96" * 16, "ef96" * 17, "", "xyz", 12])
VALID = {
    topics.TAP: {"id": request_ids, "card": cards, "units": counts, "dir": st.sampled_from(["entry", "up"]),
                 "sun": st.dictionaries(st.sampled_from(["picc_data", "cmac", "enc", "x"]), hex_values)},
    topics.REPORT: {"id": request_ids, "hold": st.sampled_from(["h-1", "", "h" * 65]), "delivered": counts,
                    "off": request_ids, "card": cards, "ago": counts},
    topics.TOPUP: {"id": request_ids, "ev": request_ids, "card": cards, "amount": counts},
    topics.STATUS: {"state": st.sampled_from(["online", "offline", "away"])},
    topics.REPLY: {"k": st.sampled_from(["grant", "deny", "ack", "error", "x"]), "re": request_ids,
                   "hold": st.sampled_from(["h-1", 1]), "units": counts, "amount": counts, "posted": counts,
                   "balance": counts, "code": st.sampled_from(["insufficient_funds", 1])},
    topics.CMD: {"seq": counts, "k": st.sampled_from(["config", "deny", "reboot", "x"]),
                 "set": st.dictionaries(st.text(max_size=10), json_values, max_size=17),
                 "add": st.lists(cards, max_size=34), "remove": st.lists(cards, max_size=3),
                 "clear": st.sampled_from([True, False, 1])},
    topics.CMDACK: {"seq": counts, "ok": st.sampled_from([True, False, 1]), "code": st.sampled_from(["x", 1])},
    topics.HEALTH: {"uptime_seconds": counts, "reconnects": counts, "reader_resets": counts,
                    "journal_depth": counts, "free_heap_bytes": counts, "rssi": counts,
                    "fw": st.sampled_from(["0.1.0", "x" * 17, 1])},
}  # fmt: skip


def _message(kind):
    fields = VALID[kind]
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda body: st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=1).map(
            lambda extra: {**body, **extra}
        )
    )


messages_of_kind = st.sampled_from(sorted(VALID)).flatmap(
    lambda kind: st.tuples(st.just(kind), _message(kind))
)


def _encode(value):
    return json.dumps(value).encode()


def _padded(pair):
    body, size = pair
    # A body of exactly `size` bytes (whitespace before the closing brace).
    return body[:-1] + b" " * max(0, size - len(body)) + b"}"


near_limit = st.tuples(
    bodies_like.map(_encode).filter(lambda b: b.startswith(b"{")),
    st.integers(messages.MAX_BODY - 3, messages.MAX_BODY + 3),
).map(_padded)
nesting = st.builds(
    lambda opener, n, closed, prefix: (prefix + opener * n + (b"]" * n if closed else b""))[
        : messages.MAX_BODY
    ],
    st.sampled_from([b"[", b"{", b'{"a":', b'{"id": ['])
    | st.sampled_from([b'[{"k":', b"[[{}", b'{"sun": {"cmac": ']),
    st.sampled_from([500, 511, 512, 900, 990, 1000, 1024]) | st.integers(1, 1100),
    st.booleans(),
    st.sampled_from([b"", b'{"id": "1-1", "card": "04A1B2C3", "units": 1, "x": ']),
)
raw_bodies = (
    st.binary(max_size=1200)
    | json_values.map(_encode)
    | bodies_like.map(_encode)
    | near_limit
    | nesting
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
kinds = st.sampled_from(KINDS) | st.text(max_size=10) | st.none() | st.integers()

id_part = st.sampled_from(["park", "d1", "", "a" * 41, "+", "#", "é", "d 1", "x/y"]) | st.text(max_size=12)
structured_topics = st.builds(
    lambda parts: "/".join(parts),
    st.lists(
        st.sampled_from(["tg", "up", "dn"]) | st.sampled_from(KINDS) | id_part,
        min_size=0,
        max_size=7,
    ),
)
topic_texts = structured_topics | st.text(max_size=120)


def _frames(body):
    """Payloads around a body: sealed right, sealed for another topic, a broken tag."""
    topic = topics.up("park", "d1", topics.TAP)
    return [
        SIGNER.seal(topic, body),
        SIGNER.seal("tg/park/d2/up/tap", body),
        body + b"#" + b"z" * 64,
        body,
    ]


def _expect_protocol_error(fn, *args):
    # Hypothesis raises the recursion limit while a test runs; the hub runs
    # with Python's default, and a decoder must not depend on it.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
    try:
        return fn(*args)
    except ProtocolError as e:
        assert e.code in CODES, e.code
        assert isinstance(str(e), str)
        return None
    finally:
        sys.setrecursionlimit(limit)


# --- protocol ---------------------------------------------------------------------


@FUZZ
@given(kinds, raw_bodies)
def test_decoders_raise_only_protocol_errors(kind, body):
    for decode in (messages.decode, hub_side.decode, manage.decode):
        got = _expect_protocol_error(decode, kind, body)
        assert got is None or isinstance(got, dict)
    got = _expect_protocol_error(messages.parse, body)
    assert got is None or isinstance(got, dict)


# The request ids each kind checks.
ID_FIELDS = {
    topics.TAP: ("id",),
    topics.REPORT: ("id", "off"),
    topics.TOPUP: ("id", "ev"),
    topics.REPLY: ("re",),
}


def _check_passed(kind, got, body):
    """What passes the checks is within the documented bounds."""
    assert len(body) <= messages.MAX_BODY
    for name in ID_FIELDS.get(kind, ()):
        if name in got:
            boot, seq = got[name].split("-")
            assert boot.isascii() and boot.isdigit() and seq.isascii() and seq.isdigit(), got[name]


@FUZZ
@given(messages_of_kind)
def test_messages_right_but_for_a_field(kind_body):
    kind, value = kind_body
    body = _encode(value)
    for decode in (messages.decode, hub_side.decode, manage.decode):
        got = _expect_protocol_error(decode, kind, body)
        if got is not None:
            _check_passed(kind, got, body)


@FUZZ
@given(st.sampled_from(KINDS), nesting)
def test_deep_nesting_is_refused_as_protocol_errors(kind, body):
    for decode in (messages.decode, hub_side.decode, manage.decode):
        _expect_protocol_error(decode, kind, body)
    _expect_protocol_error(messages.parse, body)


@FUZZ
@given(st.sampled_from(KINDS), st.one_of(bodies_like.map(_encode), near_limit, nesting))
def test_structured_bodies_of_every_kind(kind, body):
    for decode in (messages.decode, hub_side.decode, manage.decode):
        got = _expect_protocol_error(decode, kind, body)
        if got is not None:
            _check_passed(kind, got, body)


@FUZZ
@given(topic_texts)
def test_topics_parse_or_raise_bad_topic(topic):
    got = _expect_protocol_error(hub_side.parse, topic)
    if got is not None:
        site, device, direction, kind = got
        assert topics.valid_id(site) and topics.valid_id(device)
        assert direction in ("up", "dn") and kind in KINDS


@FUZZ
@given(topic_texts | st.sampled_from(["tg/park/d1/up/tap", "tg/park/d1/up/health"]), raw_bodies)
def test_receive_verifies_then_decodes_anything(topic, body):
    def signer_for(site, device):
        return SIGNER if (site, device) == ("park", "d1") else None

    for payload in _frames(body) + [SIGNER.seal(topic, body) if topic.isascii() else body]:
        got = _expect_protocol_error(hub_side.receive, signer_for, topic, payload)
        assert got is None or isinstance(got[3], dict)


@FUZZ
@given(st.binary(max_size=300) | st.builds(bytearray, st.binary(max_size=200)) | json_values)
def test_frames_split_or_raise_bad_frame(payload):
    got = _expect_protocol_error(split, payload)
    if got is not None:
        body, tag = got
        assert len(tag) == 64 and bytes(payload) == body + b"#" + tag
    _expect_protocol_error(SIGNER.open, "tg/park/d1/up/tap", payload)


@FUZZ
@given(json_values | st.text(max_size=30))
def test_ids_and_names_are_checked_without_raising(value):
    assert ids.valid(value) in (True, False)
    assert topics.valid_id(value) in (True, False)
    if ids.valid(value):
        boot, seq = value.split("-")
        assert boot.isascii() and boot.isdigit() and seq.isascii() and seq.isdigit()
    _expect_protocol_error(messages.check_card, value, "card")


# --- the firmware's MQTT packet parser ----------------------------------------------


def _remaining_length(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _packet(first, body):
    return bytes([first]) + _remaining_length(len(body)) + body


publish_bodies = st.builds(
    lambda topic, pid, payload, lie: struct.pack("!H", (len(topic) + lie) & 0xFFFF) + topic + pid + payload,
    st.binary(max_size=30) | st.text(max_size=20).map(str.encode),
    st.binary(min_size=0, max_size=2),
    st.binary(max_size=60),
    st.sampled_from([0, 0, 1, -1, 100, 0xFFFF - 30]),
)
packets = st.builds(
    _packet,
    st.integers(0, 255) | st.sampled_from([0x20, 0x30, 0x31, 0x32, 0x33, 0x36, 0x3B, 0x40, 0x90, 0xD0]),
    st.binary(max_size=8) | publish_bodies,
)
streams = st.lists(packets, max_size=4).map(b"".join) | st.binary(max_size=200)
# Lengths the parser must refuse: five length bytes, or a length longer than the stream.
streams |= st.builds(
    lambda first, tail: bytes([first]) + b"\xff\xff\xff\xff\x7f" + tail,
    st.integers(0, 255),
    st.binary(max_size=4),
)


async def _parse_stream(data):
    """Feed a byte stream (then its end) to the firmware client's reader task;
    return the messages it delivered and the error that ended the stream."""
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    delivered = []
    client = fw_mqtt.MQTTClient("fuzz", "127.0.0.1", on_message=lambda *m: delivered.append(m))
    dead = asyncio.Event()
    # The reader ends on what it documents (_LINK_ERRORS: the link is closed and
    # dead is set); anything else would escape from here.
    await client._reader(reader, dead)
    assert dead.is_set()
    # The same stream read by hand: which error ended it.
    delivered.clear()
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    try:
        while True:
            first, body = await fw_mqtt._read_packet(reader)
            await client._handle(first, body)
    except fw_mqtt._LINK_ERRORS as e:
        return delivered, e


@FUZZ
@given(streams)
def test_the_firmware_mqtt_parser_raises_only_link_errors(data):
    delivered, error = asyncio.run(_parse_stream(data))
    # MQTTError: malformed; EOFError: the stream ended; ValueError: a topic not UTF-8.
    assert type(error) in (fw_mqtt.MQTTError, asyncio.IncompleteReadError, UnicodeDecodeError), error
    for topic, payload, retain in delivered:
        assert isinstance(topic, str) and isinstance(payload, (bytes, bytearray)) and retain in (True, False)


def test_a_well_formed_publish_is_delivered_and_a_short_one_closes_the_link():
    body = struct.pack("!H", 17) + b"tg/p/d1/dn/reply1" + b"\x00\x07" + b"payload"
    delivered, error = asyncio.run(_parse_stream(_packet(0x32, body)))
    assert delivered == [("tg/p/d1/dn/reply1", b"payload", False)]
    assert isinstance(error, EOFError)
    for short in (body[:18], body[:1], b""):
        delivered, error = asyncio.run(_parse_stream(_packet(0x32, short)))
        assert (delivered, type(error)) == ([], fw_mqtt.MQTTError)
    delivered, error = asyncio.run(_parse_stream(_packet(0x30, b"\x00\x02\xff\xfe")))
    assert (delivered, type(error)) == ([], UnicodeDecodeError)
