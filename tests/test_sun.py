"""NTAG 424 DNA SUN messages: the hub checks them as NXP AN12196 describes (its
published examples below), and through the broker a clone that replays an old
message is refused while the real card keeps working, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from clients import api_client
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import select
from test_end_to_end import PRICE, RawDevice, card, holds_of, make_card, make_device, until

from hub.api.app import create_app
from hub.taps import sun
from hub.wallets import cards as wallets
from hub.wallets import cash_desk
from protocol import messages, topics

ZERO = bytes(16)
META_KEY = bytes.fromhex("42AFF114F2CB3B6141BE6DC95DFC5416")
FILE_KEY = bytes.fromhex("B62A9BAF092439BD43C62AEE96B970C5")


# --- AN12196 (NTAG 424 DNA features and hints), factory keys (all zero) --------------------


def test_an12196_encrypted_picc_data_gives_uid_and_counter_and_the_mac_verifies():
    # https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086
    message = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086"}
    uid, counter = sun.decrypt_picc_data(ZERO, bytes.fromhex(message["picc_data"]))
    assert (uid.hex().upper(), counter) == ("04DE5F1EACC040", 61)
    assert sun.sdm_mac(ZERO, uid, counter).hex().upper() == "94EED9EE65337086"
    assert sun.read_counter(message, "04DE5F1EACC040", sun.SunKeys(ZERO, ZERO, None)) == 61


def test_an12196_message_with_encrypted_file_data_verifies():
    # https://www.my424dna.com/?picc_data=FD91EC264309878BE6345CBE53BADF40
    #     &enc=CEE9A53E3E463EF1F459635736738962&cmac=ECC1E7F6C6C73BF6
    message = {
        "picc_data": "FD91EC264309878BE6345CBE53BADF40",
        "enc": "CEE9A53E3E463EF1F459635736738962",
        "cmac": "ECC1E7F6C6C73BF6",
    }
    assert sun.read_counter(message, "04958CAA5C5E80", sun.SunKeys(ZERO, ZERO, None)) == 8


def test_an12196_plain_uid_and_counter_mirror_verifies():
    message = {"uid": "041E3C8A2D6B80", "ctr": "000006", "cmac": "4B00064004B0B3D3"}
    assert sun.read_counter(message, "041E3C8A2D6B80", sun.SunKeys(None, ZERO, None)) == 6


@pytest.mark.parametrize(
    "change",
    [
        {"cmac": "94EED9EE65337087"},  # one bit of the MAC
        {"picc_data": "EF963FF7828658A599F3041510671E89"},  # the encrypted UID/counter
        {"cmac": None},  # no MAC at all
    ],
)
def test_a_tampered_message_is_refused(change):
    message = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086", **change}
    message = {k: v for k, v in message.items() if v is not None}
    with pytest.raises(sun.BadSun):
        sun.read_counter(message, "04DE5F1EACC040", sun.SunKeys(ZERO, ZERO, None))


def test_a_message_under_other_keys_or_of_another_card_is_refused():
    message = {"picc_data": "EF963FF7828658A599F3041510671E88", "cmac": "94EED9EE65337086"}
    with pytest.raises(sun.BadSun):
        sun.read_counter(message, "04DE5F1EACC040", sun.SunKeys(ZERO, FILE_KEY, None))
    with pytest.raises(sun.BadSun):
        sun.read_counter(message, "04DE5F1EACC040", sun.SunKeys(META_KEY, ZERO, None))
    with pytest.raises(sun.BadSun):
        sun.read_counter(message, "04DE5F1EACC041", sun.SunKeys(ZERO, ZERO, None))


def test_the_counter_must_be_above_the_last_one_accepted():
    message = {"uid": "041E3C8A2D6B80", "ctr": "000006", "cmac": "4B00064004B0B3D3"}
    assert sun.check(message, "041E3C8A2D6B80", sun.SunKeys(None, ZERO, 5)) == 6
    with pytest.raises(sun.BadSun, match="replay"):
        sun.check(message, "041E3C8A2D6B80", sun.SunKeys(None, ZERO, 6))


# --- through the broker and the hub ----------------------------------------------------------


def tag_message(uid: str, counter: int, meta_key=META_KEY, file_key=FILE_KEY) -> dict:
    """What an NTAG 424 DNA with these keys puts in its URL on read number `counter`."""
    raw_uid = bytes.fromhex(uid)
    plain = b"\xc7" + raw_uid + counter.to_bytes(3, "little") + os.urandom(5)
    encryptor = Cipher(algorithms.AES(meta_key), modes.CBC(bytes(16))).encryptor()
    enc = encryptor.update(plain) + encryptor.finalize()
    return {"picc_data": enc.hex().upper(), "cmac": sun.sdm_mac(file_key, raw_uid, counter).hex().upper()}


def new_uid(hub, balance):
    """A card with a 7-byte UID, as an NTAG 424 has."""
    uid = "04" + uuid.uuid4().hex[:12].upper()
    with hub.engine.begin() as conn:
        wallets.issue_card(conn, "CHF", uid)
        if balance:
            cash_desk.top_up(conn, uid, balance, f"test/{uid}")
    return uid


@pytest.fixture
def api(hub):
    with api_client(create_app(hub.engine)) as client:
        yield client


async def tap(raw, request_id, uid, sun_data=None, units=1):
    body = {"id": request_id, "card": uid, "units": units}
    if sun_data is not None:
        body["sun"] = sun_data
    await raw.send(topics.TAP, body)
    [reply] = await raw.replies(1)
    return raw.open(reply)


async def test_a_clone_replaying_an_old_sun_is_refused_and_the_real_card_works(hub, api):
    uid = new_uid(hub, 10 * PRICE)
    r = api.put(
        f"/api/v1/cards/{uid}/sun", json={"file_read_key": FILE_KEY.hex(), "meta_read_key": META_KEY.hex()}
    )
    assert r.status_code == 200
    assert "key" not in str(r.json()) and FILE_KEY.hex() not in str(r.json()).lower()
    async with RawDevice(hub) as raw:
        read_7 = tag_message(uid, 7)
        granted = await tap(raw, "1-1", uid, read_7)
        assert granted["k"] == messages.GRANT
        # The clone copied read 7 (e.g. sniffed at the reader): refused, nothing held.
        clone = await tap(raw, "1-2", uid, read_7)
        assert (clone["k"], clone["code"]) == (messages.DENY, messages.BAD_SUN)
        # The same request delivered again still gets its first answer.
        await raw.send(topics.TAP, {"id": "1-1", "card": uid, "units": 1, "sun": read_7})
        [again] = await raw.replies(1)
        assert raw.open(again) == granted
        # Without SUN data (a UID copied to a plain card) or with a forged MAC: refused.
        assert (await tap(raw, "1-3", uid))["code"] == messages.BAD_SUN
        forged = {**tag_message(uid, 9), "cmac": "00" * 8}
        assert (await tap(raw, "1-4", uid, forged))["code"] == messages.BAD_SUN
        # SUN data made with the factory keys (a blank tag programmed with the UID).
        fake = tag_message(uid, 10, meta_key=ZERO, file_key=ZERO)
        assert (await tap(raw, "1-5", uid, fake))["code"] == messages.BAD_SUN
        # The real card's next read.
        assert (await tap(raw, "1-6", uid, tag_message(uid, 8)))["k"] == messages.GRANT
    assert len(holds_of(hub, raw.id)) == 2
    assert card(hub, uid)["available"] == 8 * PRICE
    registration = api.get(f"/api/v1/cards/{uid}/sun").json()
    assert registration["last_counter"] == 8 and registration["encrypted_picc_data"]
    assert not any("key" in name for name in registration)


async def test_the_real_firmware_forwards_sun_and_a_clone_never_moves_the_relay(hub, api, tmp_path):
    uid = new_uid(hub, 10 * PRICE)
    api.put(
        f"/api/v1/cards/{uid}/sun", json={"file_read_key": FILE_KEY.hex(), "meta_read_key": META_KEY.hex()}
    )
    device = make_device(hub, tmp_path)
    await device.start()
    try:
        read_3 = tag_message(uid, 3)
        device.tap(uid, read_3)
        await until(lambda: device.results and device.pulses() == 1)
        device.tap(uid, read_3)  # the clone
        await until(lambda: len(device.results) == 2)
        assert device.results[-1][1:3] == ("deny", messages.BAD_SUN)
        device.tap(uid)  # a plain copy of the UID
        await until(lambda: len(device.results) == 3)
        assert device.results[-1][1:3] == ("deny", messages.BAD_SUN)
        await until(lambda: card(hub, uid)["held"] == 0)
        assert device.pulses() == 1
        assert card(hub, uid)["balance"] == 9 * PRICE
    finally:
        await device.stop()


async def test_a_plain_mirror_card_and_a_uid_only_card(hub, api):
    plain = new_uid(hub, 10 * PRICE)
    api.put(f"/api/v1/cards/{plain}/sun", json={"file_read_key": FILE_KEY.hex(), "last_counter": 41})
    uid_only = make_card(hub, 10 * PRICE)

    def mirror(counter):
        return {
            "uid": plain,
            "ctr": f"{counter:06X}",
            "cmac": sun.sdm_mac(FILE_KEY, bytes.fromhex(plain), counter).hex().upper(),
        }

    async with RawDevice(hub) as raw:
        # Counters up to the one given at registration are used up already.
        assert (await tap(raw, "2-1", plain, mirror(41), units=0))["code"] == messages.BAD_SUN
        enquiry = await tap(raw, "2-2", plain, mirror(42), units=0)
        assert (enquiry["k"], enquiry["balance"]) == (messages.ACK, 10 * PRICE)
        assert (await tap(raw, "2-3", plain, mirror(42), units=0))["code"] == messages.BAD_SUN
        # A card not registered for SUN works on its UID; SUN data it carries is ignored.
        assert (await tap(raw, "2-4", uid_only, units=0))["balance"] == 10 * PRICE
        assert (await tap(raw, "2-5", uid_only, {"cmac": "00" * 8, "uid": "00" * 7}, units=0))[
            "k"
        ] == messages.ACK
    assert api.get(f"/api/v1/cards/{plain}/sun").json()["last_counter"] == 42
    # Unregistered, the card works on its UID alone again.
    assert api.delete(f"/api/v1/cards/{plain}/sun").status_code == 204
    assert api.get(f"/api/v1/cards/{plain}/sun").status_code == 404
    async with RawDevice(hub) as raw:
        assert (await tap(raw, "3-1", plain, units=0))["k"] == messages.ACK


def test_registering_sun_keys_checks_the_input(hub, api):
    uid = new_uid(hub, 0)
    assert (
        api.put("/api/v1/cards/0102030405060708/sun", json={"file_read_key": FILE_KEY.hex()}).status_code
        == 404
    )
    assert api.put(f"/api/v1/cards/{uid}/sun", json={"file_read_key": "12"}).status_code == 422
    assert (
        api.put(
            f"/api/v1/cards/{uid}/sun", json={"file_read_key": FILE_KEY.hex(), "last_counter": -1}
        ).status_code
        == 422
    )
    # Re-keying keeps the counter accepted so far.
    api.put(f"/api/v1/cards/{uid}/sun", json={"file_read_key": FILE_KEY.hex(), "last_counter": 9})
    again = api.put(f"/api/v1/cards/{uid}/sun", json={"file_read_key": META_KEY.hex()}).json()
    assert again["last_counter"] == 9 and not again["encrypted_picc_data"]
    with hub.engine.connect() as conn:
        stored = conn.execute(select(sun.CARD_SUN.c.file_key_hex).where(sun.CARD_SUN.c.uid == uid)).scalar()
    assert stored == META_KEY.hex().upper()
