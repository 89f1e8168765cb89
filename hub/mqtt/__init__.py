"""The hub's MQTT runtime: the bridge between the broker and the booking path."""
