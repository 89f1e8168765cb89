"""The ledgers' sums (/api/v1/ledgers): the double-entry check an operator can read."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hub.api.auth import Allowed
from hub.api.deps import COALITION, DbDep
from hub.ledger import ledger_totals

router = APIRouter(tags=["ledger"])


class LedgerSums(BaseModel):
    posted: int = Field(description="sum of all posted balances of the ledger's accounts")
    pending: int = Field(description="sum of all pending balances")


@router.get("/ledgers", response_model=dict[str, LedgerSums])
def ledgers(_caller: Allowed.reports_read, db: DbDep):
    """Per ledger, the sum of all posted and of all pending balances: always zero."""
    return db.read(ledger_totals, scope=COALITION)
