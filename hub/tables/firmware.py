"""Firmware updates over the air (hub/devices/firmware_updates.py): published bundles and their
files, rollouts to groups of controllers, and each controller's update."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from hub.tables.types import created, moment


class FirmwareBundle(SQLModel, table=True):
    """A version published for controllers: its manifest as they fetch it (one line per file
    with its SHA-256 and size). The files are in firmware_files, in the database, so that every
    hub process serving a coalition can hand them out."""

    __tablename__ = "firmware_bundles"
    version: str = Field(primary_key=True)
    manifest: str = Field(sa_column=Column(Text, nullable=False))
    manifest_sha256: str
    files: int
    size: int  # bytes of all its files
    published_by: str = ""
    published_at: datetime = created()


class FirmwareFile(SQLModel, table=True):
    __tablename__ = "firmware_files"
    version: str = Field(primary_key=True, foreign_key="firmware_bundles.version")
    path: str = Field(primary_key=True)  # e.g. firmware/app.mpy
    sha256: str
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class FirmwareRollout(SQLModel, table=True):
    """A version offered to a chosen group of controllers."""

    __tablename__ = "firmware_rollouts"
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(foreign_key="firmware_bundles.version", index=True)
    target: str  # the group as asked: device ids, or a site and a share
    created_by: str = ""
    created_at: datetime = created()


class FirmwareUpdate(SQLModel, table=True):
    """One controller's update to one version: offered (the offer is the command seq), then
    confirmed (the version reached the hub), rolled_back (the controller went back by itself)
    or failed (it refused the offer: the command's ack says why). Between offered and the end,
    the command's ack tells whether it is staged."""

    __tablename__ = "firmware_updates"
    device_id: str = Field(primary_key=True, foreign_key="devices.id")
    version: str = Field(primary_key=True, foreign_key="firmware_bundles.version")
    rollout_id: int = Field(foreign_key="firmware_rollouts.id", index=True)
    seq: int  # the offer's command seq (device_commands)
    state: str = "offered"  # offered, confirmed, rolled_back
    reason: str | None = None  # why it was rolled back
    offered_at: datetime = created()
    ended_at: datetime | None = moment()
