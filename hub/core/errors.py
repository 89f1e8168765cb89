"""The one error hierarchy of the hub's domain. hub/api/errors.py maps it to HTTP in one place.

No class here subclasses ValueError or LookupError: a library's ValueError is a bug and answers
500, never a 4xx carrying its internal message.
"""

from __future__ import annotations


class DomainError(Exception):
    """Something the domain refuses, with a message a cash register's programmer can act on."""

    status = 400


class Forbidden(DomainError):
    """The caller is known but has no right to this (another outlet, over their limit)."""

    status = 403


class TooMany(DomainError):
    """Too many requests or wrong passwords: try again after `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(DomainError):
    """Something named in the request does not exist."""

    status = 404


class Conflict(DomainError):
    """It exists, but the request conflicts with its state (a blocked card, a used key)."""

    status = 409


class Invalid(DomainError):
    """A value the domain refuses (a rule that cannot hold, an unknown time zone)."""

    status = 422


class LedgerError(Conflict):
    """A transfer the ledger refuses."""

    code = "ledger_error"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class LedgerMismatch(LedgerError):
    code = "ledger_mismatch"


class PointsError(Conflict):
    """Points cannot be spent or clawed back as asked (a conflict with the card's lots)."""


class GiftError(Conflict):
    """The card does not hold the gift units asked for, or they are not redeemable here."""
