# Request ids that never repeat for one device, across reboots and power cuts:
# "<boot>-<seq>". The boot counter is persisted before the first id of a boot
# is handed out (write a temp file, then rename: atomic on littlefs and POSIX).
import os

_MAX_SEQ = 0x7FFFFFFF


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

    def next(self):
        self.seq += 1
        if self.seq > _MAX_SEQ:
            # Practically unreachable; a fresh boot number keeps ids unique.
            self.boot += 1
            write_atomic(self.path, str(self.boot))
            self.seq = 1
        return "%d-%d" % (self.boot, self.seq)


def valid(request_id):
    # "<boot>-<seq>" as next() writes it: ASCII digits (str.isdigit and int()
    # also take "\u0661" and "\u00b3" in CPython), no sign, no leading zero.
    try:
        boot, seq = request_id.split("-")
        return len(request_id) <= 24 and "%d-%d" % (int(boot), int(seq)) == request_id
    except (AttributeError, TypeError, ValueError):  # not a str; not two numbers
        return False
