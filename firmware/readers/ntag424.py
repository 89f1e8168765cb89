# NTAG 424 DNA with SUN (Secure Unique NFC, "SDM"): every read of its NDEF
# file yields a URL whose parameters carry the encrypted PICC data (UID +
# read counter) and a CMAC, both fresh on each tap, e.g. (NXP AN12196)
#   https://park.example/t?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086
# The controller cannot verify them (the key stays on the hub); it forwards
# them, and the hub refuses a clone that replays old values.
#
# read_sun(apdu) speaks ISO 7816-4 over ISO-DEP through the driver's apdu()
# coroutine: select the NDEF application, select the NDEF file (E104h), read
# it with ReadBinary. Any card that is not such a tag gives None.
from firmware.readers.base import ReaderError
from protocol import const

_SELECT_APP = b"\x00\xa4\x04\x00\x07\xd2\x76\x00\x00\x85\x01\x01\x00"
_SELECT_NDEF = b"\x00\xa4\x00\x0c\x02\xe1\x04"
_OK = b"\x90\x00"
_MAX_NDEF = const(250)  # bytes of the NDEF message read at most
_MAX_VALUE = const(64)  # hex digits of one parameter at most
_HEX = "0123456789abcdefABCDEF"
# URL parameter -> key in the SUN data (NXP's names, and the short ones in use).
_KEYS = {
    "picc_data": "picc_data",
    "p": "picc_data",
    "enc": "enc",
    "cmac": "cmac",
    "c": "cmac",
    "uid": "uid",
    "ctr": "ctr",
}


async def read_sun(apdu, chunk=48):
    """SUN data of the tag in the field as a dict, or None. apdu(bytes) -> reply incl. SW1 SW2."""
    try:
        if (await apdu(_SELECT_APP))[-2:] != _OK or (await apdu(_SELECT_NDEF))[-2:] != _OK:
            return None
        data = b""
        want = 2  # the NLEN field first, then the message it announces
        while len(data) < want:
            n = min(chunk, want - len(data)) if len(data) >= 2 else chunk
            reply = await apdu(bytes((0, 0xB0, len(data) >> 8, len(data) & 0xFF, n)))
            if reply[-2:] != _OK or len(reply) < 3:
                return None
            data += reply[:-2]
            if want == 2 and len(data) >= 2:
                want = 2 + min((data[0] << 8) | data[1], _MAX_NDEF)
        return sun_from_ndef(data[2:want])
    except ReaderError:
        return None


def sun_from_ndef(msg):
    """SUN data from the first record of an NDEF message when it is a URI record."""
    if len(msg) < 4 or msg[0] & 0x07 != 1:  # TNF 1: NFC Forum well-known type
        return None
    flags, tlen = msg[0], msg[1]
    if flags & 0x10:  # short record: 1-byte payload length
        plen, i = msg[2], 3
    else:
        plen, i = int.from_bytes(msg[2:6], "big"), 6
    idlen = 0
    if flags & 0x08:
        idlen, i = msg[i], i + 1
    if msg[i : i + tlen] != b"U":
        return None
    i += tlen + idlen
    # payload: one URI prefix code (https://, ...), then the rest of the URI
    return sun_from_url(msg[i + 1 : i + plen])


def sun_from_url(url):
    try:
        url = url.decode()
    except UnicodeError:
        return None
    q = url.find("?")
    if q < 0:
        return None
    sun = {}
    for part in url[q + 1 :].split("&"):
        name, _, value = part.partition("=")
        key = _KEYS.get(name)
        if key is not None and _is_hex(value):
            sun[key] = value.upper()
    if "cmac" not in sun or not ("picc_data" in sun or "uid" in sun):
        return None
    return sun


def _is_hex(value):
    if not 0 < len(value) <= _MAX_VALUE or len(value) % 2:
        return False
    for ch in value:
        if ch not in _HEX:
            return False
    return True
