"""The hub's MQTT bridge answers every bad message the same way: refused and
counted, with a warning and no traceback; nothing escapes into gmqtt's callback."""

from __future__ import annotations

import logging

from hub.mqtt.bridge import Bridge
from protocol import topics
from protocol.signing import Signer

KEY = "ab" * 32
TOPIC = topics.up("park", "dev-1", topics.TAP)


class Directory:
    def __init__(self, signer=None, error=None):
        self._signer = signer
        self._error = error

    def signer(self, site, device_id):
        if self._error is not None:
            raise self._error
        return self._signer


def _bridge(directory):
    return Bridge("mqtt://127.0.0.1:1", directory, authorizer=None)


def test_deeply_nested_json_is_refused_and_counted(caplog):
    bridge = _bridge(Directory(Signer(KEY)))
    body = b'{"id": "1-1", "card": "04A1B2C3", "units": 1, "x": ' + b"[" * 970
    with caplog.at_level(logging.WARNING, logger="tapgift.bridge"):
        bridge.receive(TOPIC, Signer(KEY).seal(TOPIC, body))
        bridge.receive(TOPIC, Signer(KEY).seal(TOPIC, b"[" * 1000))
    assert bridge.stats["refused"] == 2
    assert bridge.stats["received"] == 0 and bridge.queue.empty()
    assert "bad_json" in caplog.text
    assert not any(r.exc_info for r in caplog.records)


def test_any_message_the_bridge_cannot_handle_is_refused_without_a_traceback(caplog):
    bridge = _bridge(Directory(error=RuntimeError("something unforeseen")))
    with caplog.at_level(logging.WARNING, logger="tapgift.bridge"):
        bridge.receive(TOPIC, Signer(KEY).seal(TOPIC, b'{"id": "1-1", "card": "04A1B2C3", "units": 1}'))
    assert bridge.stats["refused"] == 1
    assert "RuntimeError" in caplog.text and "something unforeseen" in caplog.text
    assert not any(r.exc_info for r in caplog.records)
