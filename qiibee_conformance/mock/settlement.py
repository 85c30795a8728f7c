"""Background settlement: moves queued exchanges from pending to success or failed.

Each due row settles in its own store transaction. A failed exchange is reversed
(the points come back; the row's final status shows it: "failed", or "reversed"
as literal-reading names it); a successful one credits the receiving token when
the user holds it on this platform. Rows left pending by a previous run settle on
the first tick after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from qiibee_conformance.mock.catalogue import TOKENS
from qiibee_conformance.mock.state import MockState
from qiibee_conformance.mock.store import TxRow

log = logging.getLogger("qiibee_conformance.mock")


class SettlementWorker:
    """Polls for due pending rows; cheap thanks to a partial index on pending rows."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        delay = state.config.settle_delay
        self.tick = min(0.05, max(0.005, delay / 4))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                self.settle_due()
            except Exception:  # keep settling even if one pass hits a bug; log it once
                log.exception("settlement pass failed")
            await asyncio.sleep(self.tick)

    def settle_due(self) -> int:
        """Settle every due row; returns how many settled."""
        if self.state.fault("settlement-stuck"):
            return 0
        rows = self.state.store.due_pending(time.time())
        for row in rows:
            self._settle(row)
        return len(rows)

    def _settle(self, row: TxRow) -> None:
        st = self.state
        store = st.store
        target = TOKENS.get(row.token_to_id or 0)
        with store.transaction():
            success = target is not None and target.settles
            debited = bool(row.debited)
            if success and not debited:
                if store.balance(row.user_pk, row.token_id) >= row.amount:
                    store.add_balance(row.user_pk, row.token_id, -row.amount)
                    debited = True
                else:
                    success = False
            if success:
                if target is not None and target.credits_holder and row.amount_received:
                    store.add_balance(row.user_pk, target.id, int(row.amount_received))
                store.finish_tx(row.id, "success", debited)
                return
            if debited and not st.fault("settlement-no-reversal"):
                if st.fault("settlement-refund-row-only"):
                    # shown reversed (the failed row and a refund row of its own), the points stay gone
                    store.insert_tx(
                        type="credit_points", status="success", user_pk=row.user_pk, token_id=row.token_id,
                        token_to_id=None, amount=row.amount, amount_received=str(row.amount),
                    )
                else:
                    store.add_balance(row.user_pk, row.token_id, row.amount)
                debited = False
            store.finish_tx(row.id, "failed", debited)
