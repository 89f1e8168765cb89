"""What controllers ask of the hub: taps authorised a batch at a time (`authorize`), through the
loyalty engine where a device has settings (`device_loyalty`), NTAG 424 SUN checks (`sun`), offline
vends replayed (`offline_vends`) and kiosk top-ups (`kiosk_topups`)."""
