# Card readers. Each driver takes its bus (SPI + CS pin, I2C + address, UART)
# in its constructor, so tests drive the real code against fake chips, and is
# built by hal_esp32.Board from the provisioning file's pins.reader. Import
# only the driver in use (firmware.readers.mfrc522, .pn532, .qr): the others
# would cost heap for nothing.
#
# Every reader is a base.Reader:
#   await reader.read()  the next card: uppercase hex UID (QR: the code's text)
#   reader.last_sun      SUN data of the card read() just returned, or None:
#                        {"picc_data", "cmac"[, "enc", "uid", "ctr"]}, hex
#   reader.resets        re-initialisations after the first (telemetry)
#   reader.healthy       False while the reader does not answer
#   reader.version       chip version seen by the last health check
