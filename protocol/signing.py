# HMAC-SHA256 over topic + body, carried as a fixed-length suffix:
#   payload = body + b"#" + 64 hex digits of HMAC(key, topic + b"\n" + body)
# The raw body bytes are signed (not a re-serialisation), so MicroPython and
# CPython need not agree on JSON formatting. MicroPython has no hmac module,
# hence the small RFC 2104 implementation over hashlib.sha256. Hex goes through
# bytes.hex/fromhex: importing binascii would cost a controller 7 KB of heap.
# New device keys are the hub's business: protocol/hub_side.py new_key_hex().
import hashlib

from protocol import BAD_FRAME, BAD_TAG, ProtocolError, const

try:  # CPython (the hub, the tools): OpenSSL's HMAC in one call, several times faster
    from hmac import compare_digest as _same
    from hmac import digest as _hmac
except ImportError:  # MicroPython: the implementation below
    _hmac = None

_BLOCK = const(64)
_TAG_HEX_LEN = const(64)
_SUFFIX_LEN = const(65)  # b"#" + the tag
_SEP = const(35)  # ord("#")


class Signer:
    """HMAC-SHA256 with one device key; pre-computes the padded keys."""

    def __init__(self, key):
        if isinstance(key, str):
            key = bytes.fromhex(key)
        if _hmac is not None:
            self._key = key
            return
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._inner = bytes(b ^ 0x36 for b in key)
        self._outer = bytes(b ^ 0x5C for b in key)

    def mac(self, *parts):
        """HMAC of the concatenated parts (on MicroPython without concatenating them)."""
        if _hmac is not None:
            return _hmac(self._key, b"".join(parts), "sha256")
        inner = hashlib.sha256(self._inner)
        for part in parts:
            inner.update(part)
        outer = hashlib.sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()

    def tag(self, topic, body):
        return self.mac(topic.encode(), b"\n", body).hex().encode()

    def seal(self, topic, body):
        """Return the wire payload for body (bytes) published on topic."""
        return body + b"#" + self.tag(topic, body)

    def open(self, topic, payload):
        """Return the body of a payload whose tag is right, else raise ProtocolError."""
        body, tag = split(payload)
        expected = self.tag(topic, body)
        if _hmac is not None:
            if not _same(expected, tag):
                raise ProtocolError(BAD_TAG, topic)
            return body
        # Both are 64 bytes; compare all of them, so the time taken does not
        # tell where the first difference is.
        diff = 0
        for i in range(_TAG_HEX_LEN):
            diff |= expected[i] ^ tag[i]
        if diff:
            raise ProtocolError(BAD_TAG, topic)
        return body


def split(payload):
    """Split a payload into (body, tag) without checking the tag."""
    if not isinstance(payload, (bytes, bytearray)):
        raise ProtocolError(BAD_FRAME, "payload is not bytes")
    if len(payload) <= _SUFFIX_LEN or payload[-_SUFFIX_LEN] != _SEP:
        raise ProtocolError(BAD_FRAME, "no tag")
    return bytes(payload[:-_SUFFIX_LEN]), bytes(payload[-_TAG_HEX_LEN:])
