"""The message contract between controllers and the hub.

Runs unchanged on MicroPython (controllers) and CPython (hub, HIL): no typing,
no dataclasses, only json, hashlib and os.
"""
