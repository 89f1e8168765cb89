# HMAC-SHA256 over topic + body, carried as a fixed-length suffix:
#   payload = body + b"#" + 64 hex digits of HMAC(key, topic + b"\n" + body)
# The raw body bytes are signed (not a re-serialisation), so MicroPython and
# CPython need not agree on JSON formatting. MicroPython has no hmac module,
# hence the small RFC 2104 implementation over hashlib.sha256. Hex goes through
# bytes.hex/fromhex: importing binascii would cost a controller 7 KB of heap.
import hashlib

from protocol.errors import ProtocolError, BAD_FRAME, BAD_TAG

_BLOCK = 64
_SEP = 35  # ord("#")
TAG_HEX_LEN = 64
SUFFIX_LEN = TAG_HEX_LEN + 1
_IPAD = bytes(0x36 for _ in range(_BLOCK))
_OPAD = bytes(0x5C for _ in range(_BLOCK))


def _xor(key, pad):
    return bytes(key[i] ^ pad[i] for i in range(_BLOCK))


class Signer:
    """HMAC-SHA256 with one device key; pre-computes the padded keys."""

    def __init__(self, key):
        if isinstance(key, str):
            key = bytes.fromhex(key)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._inner = _xor(key, _IPAD)
        self._outer = _xor(key, _OPAD)

    def mac(self, data):
        inner = hashlib.sha256(self._inner)
        inner.update(data)
        outer = hashlib.sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()

    def tag(self, topic, body):
        h = hashlib.sha256(self._inner)
        h.update(topic.encode())
        h.update(b"\n")
        h.update(body)
        outer = hashlib.sha256(self._outer)
        outer.update(h.digest())
        return outer.digest().hex().encode()

    def seal(self, topic, body):
        """Return the wire payload for body (bytes) published on topic."""
        return body + b"#" + self.tag(topic, body)

    def open(self, topic, payload):
        """Return the body of a payload whose tag is right, else raise ProtocolError."""
        body, tag = split(payload)
        if not equal(self.tag(topic, body), tag):
            raise ProtocolError(BAD_TAG, topic)
        return body


def split(payload):
    """Split a payload into (body, tag) without checking the tag."""
    if not isinstance(payload, (bytes, bytearray)):
        raise ProtocolError(BAD_FRAME, "payload is not bytes")
    if len(payload) <= SUFFIX_LEN or payload[-SUFFIX_LEN] != _SEP:
        raise ProtocolError(BAD_FRAME, "no tag")
    return bytes(payload[:-SUFFIX_LEN]), bytes(payload[-TAG_HEX_LEN:])


def equal(a, b):
    """Compare in time independent of where the first difference is."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def new_key_hex(nbytes=32):
    import os
    return os.urandom(nbytes).hex()
