"""The tapgift hub: ledger, authorisation, MQTT bridge, REST API."""

__version__ = "0.1.0"
