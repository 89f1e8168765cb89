# Request ids that never repeat for one device, across reboots, power cuts, an
# erased flash and a replaced board: "<boot>.<nonce>-<seq>". The boot counter
# is persisted before the first id of a boot is handed out (write a temp file,
# then rename: atomic on littlefs and POSIX), so one flash never repeats an id.
# The flash alone is not enough: esptool erase_flash, or a new board given the
# old one's provisioning file, starts the counter again at 1, and the hub would
# take "1-1" for the request it answered under that id before. So each boot also
# draws a random nonce (40 bits: the ESP32's hardware RNG, hashed with the
# microsecond clock at the first request, when Wi-Fi is usually up and the RNG
# draws on radio noise). Firmware 0.1 sent "<boot>-<seq>"; valid() still takes it.
import hashlib
import os

from protocol import const

_MAX_SEQ = 0x7FFFFFFF
_NONCE_BYTES = const(5)
_HEX = const("0123456789abcdef")
_MAX_DIGITS_LEN = const(24)  # "<boot>-<seq>" at most: both numbers and the "-"
_MAX_LEN = const(35)  # with ".<nonce>" (2 * _NONCE_BYTES hex digits)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class RequestIds:
    def __init__(self, path):
        self.path = path
        try:
            with open(path) as f:
                self.boot = int(f.read().strip() or "0") + 1
        except (OSError, ValueError):
            self.boot = 1
        write_atomic(path, str(self.boot))
        self.seq = 0
        self.nonce = None  # drawn with the first id: see the top of this file

    def next(self):
        if self.nonce is None:
            # 10 lowercase hex digits nobody can predict or repeat by erasing the flash.
            try:
                h = hashlib.sha256(os.urandom(16))  # the ESP32 port's hardware RNG
            except AttributeError:  # ports without it (the WebAssembly one): random, seeded by the port
                import random

                h = hashlib.sha256(str(random.getrandbits(32)).encode())
                h.update(str(random.getrandbits(32)).encode())
            import time

            try:
                h.update(str(time.ticks_us()).encode())  # MicroPython; CPython's urandom needs no help
            except AttributeError:
                pass
            self.nonce = h.digest()[:_NONCE_BYTES].hex()
        self.seq += 1
        if self.seq > _MAX_SEQ:
            # Practically unreachable; a fresh boot number keeps ids unique.
            self.boot += 1
            write_atomic(self.path, str(self.boot))
            self.seq = 1
        return str(self.boot) + "." + self.nonce + "-" + str(self.seq)

    def renew(self):
        """A fresh nonce (and seq from 1) for the ids from now on: the hub said an id was
        used before (messages.ID_REUSED)."""
        self.nonce = None
        self.seq = 0


def valid(request_id):
    # "<boot>.<nonce>-<seq>" as next() writes it, or "<boot>-<seq>" of firmware
    # 0.1: ASCII digits (str.isdigit and int() also take "\u0661" and "\u00b3" in
    # CPython), no sign, no leading zero; the nonce lowercase hex of fixed length.
    try:
        head, seq = request_id.split("-")
        boot, dot, nonce = head.partition(".")
        if dot:
            if len(nonce) != 2 * _NONCE_BYTES:
                return False
            for ch in nonce:
                if ch not in _HEX:
                    return False
        return (
            len(request_id) <= (_MAX_LEN if dot else _MAX_DIGITS_LEN)
            and str(int(boot)) + dot + nonce + "-" + str(int(seq)) == request_id
        )
    except (AttributeError, TypeError, ValueError):  # not a str; not two numbers
        return False
