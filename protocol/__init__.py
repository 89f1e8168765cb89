"""The message contract between controllers and the hub.

Runs unchanged on MicroPython (controllers) and CPython (hub, HIL): no typing,
no dataclasses, only json, hashlib and os.
"""

# Precise reasons a message is refused. Receivers log the code and drop the
# message; they never crash on input from the network.
BAD_TOPIC = "bad_topic"
BAD_FRAME = "bad_frame"
BAD_TAG = "bad_tag"
BAD_JSON = "bad_json"
BAD_FIELD = "bad_field"
TOO_LARGE = "too_large"


class ProtocolError(Exception):
    def __init__(self, code, detail=""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self):
        if self.detail:
            return "%s: %s" % (self.code, self.detail)
        return self.code


# MicroPython's compiler folds NAME = const(value) and drops "_NAME" from the
# module's globals; CPython needs a stand-in. protocol modules import it from here.
try:
    from micropython import const
except ImportError:

    def const(value):
        return value
