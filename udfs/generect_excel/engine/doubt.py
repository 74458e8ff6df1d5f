"""Unknown outcomes: a billable call sent whose answer was lost or unreadable is recorded,
and never sent again blindly (see :mod:`generect_excel.engine`, "Unknown outcomes")."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from .. import _constants as C
from ..errors import APIError, GenerectError, OutcomeUnknownError, ProtocolError, StoreError
from ..ledger import Charge, Origin
from ..store import Found, UnknownOutcome
from .base import _EngineBase
from .keys import _Call

log = logging.getLogger("generect_excel.engine")  # the engine's one logger, whichever module logs


# What a call whose outcome is unknown says, every time (one line for the cell).
LOST_MESSAGE = (
    "Answer lost: it may have been charged. Check the balance or `generect-excel spend`; "
    "change the refresh value to retry."
)
UNREADABLE_MESSAGE = (
    "Answer unreadable: it may have been charged. Check balance or `generect-excel spend`; "
    "change the refresh value to retry."
)


class _DoubtMixin(_EngineBase):
    """Recording and answering unknown outcomes."""

    def _remember_doubt(self, call: _Call, exc: BaseException) -> None:
        """A call that waited on a fetch whose outcome is unknown keeps that doubt on its own
        refresh mark, so its next recalculation does not send the call again either."""
        unknown = exc.unknown_outcome if isinstance(exc, APIError) else None
        if unknown is None:
            return
        if call.token is None or call.token == unknown.token:
            return  # the doubt itself already answers this call
        try:
            self.store.set_failed_mark(call.key, call.slot, call.token, unknown.at)
        except StoreError as exc2:
            log.warning("could not record a refresh value: %s", exc2.details)

    @staticmethod
    def _doubt_blocks(call: _Call, found: Found) -> bool:
        """Whether the unknown outcome on the key answers this call (with its error)."""
        unknown, entry = found.unknown, found.entry
        assert unknown is not None
        if entry is not None and entry.fetched_at >= unknown.at:
            return False  # answered since (a journal imported late): the doubt is settled
        if call.token is None:
            return entry is None  # no refresh asked: the stored answer if any, else the doubt
        if call.token == unknown.token:
            return True  # this very refresh value was sent and lost
        # This formula's own call with this value was lost, after the stored answer.
        failed = found.mark_failed_at
        return (
            found.mark == call.token
            and failed is not None
            and (entry is None or failed > entry.fetched_at)
        )

    def _doubt_error(
        self, call: _Call, unknown: UnknownOutcome
    ) -> OutcomeUnknownError | ProtocolError:
        """The error a call answers with while its unknown outcome stands (nothing is sent)."""
        from ..budget import format_money

        details = (
            f"This {call.mode} {call.kind} was sent at {unknown.at:%Y-%m-%d %H:%M:%S} UTC and "
            f"its answer was lost ({unknown.error}): it may have been charged. Up to "
            f"{format_money(unknown.amount)} is recorded in the ledger as an unknown outcome. "
            "Nothing was sent now. Check the balance (GENERECT_BALANCE, the account page) or "
            "`generect-excel spend`; change the formula's refresh value (the CLI: --refresh) "
            "to send it again."
        )
        error: OutcomeUnknownError | ProtocolError
        if unknown.error == "ProtocolError":
            error = ProtocolError(
                UNREADABLE_MESSAGE,
                details=details,
                path=call.endpoint.path,
                may_be_charged=True,
                unknown_outcome=unknown,
            )
        else:
            error = OutcomeUnknownError(
                LOST_MESSAGE, details=details, path=call.endpoint.path, unknown_outcome=unknown
            )
        return error

    @staticmethod
    def _maybe_charged(call: _Call, exc: GenerectError) -> bool:
        """Whether a failed call may have been charged: a billable call sent whose answer was
        lost, or came back unreadable under a 2xx status (the client's ProtocolError; a 3xx
        redirect is one too, but Generect never processed it)."""
        if not call.endpoint.billable:
            return False  # a free call cannot have cost anything (and the client retries it)
        if isinstance(exc, OutcomeUnknownError):
            return True
        return isinstance(exc, ProtocolError) and exc.may_be_charged

    def _doubt_records(self, call: _Call, error_kind: str) -> tuple[UnknownOutcome, Charge]:
        """What an unknown outcome of ``call`` is recorded as, now: the doubt under its key and
        its ledger row at the worst-case estimate, flagged ``unknown_outcome``."""
        now = self._clock()
        estimate = call.endpoint.estimate(call.body)
        charge_id = uuid.uuid4().hex
        unknown = UnknownOutcome(call.key, call.token, now, error_kind, estimate, charge_id)
        charge = Charge(
            charge_id=charge_id,
            time=now,
            endpoint=call.endpoint.path,
            mode=call.mode,
            request=call.body,
            rows=0,
            results_count=None,
            amount_charged=estimate,
            test_mode=self.settings.test_mode_key,
            account=self.settings.account,
            base_url=self.settings.base_url,
            cache_key=call.key,
            origin=call.origin or Origin(),
            unknown_outcome=True,
        )
        return unknown, charge

    def _marker(self, call: _Call, owner: str, marked: list[bool]) -> Callable[[], None]:
        """The client's ``on_send`` for a billable call: mark its claim sent, durably, with
        what to record if this process dies before it learns how the call ended (a kill, a
        crash of Excel), and note it in ``marked``. Raising stops the request from leaving."""
        ttl = self._claim_ttl(call)

        def mark_sent() -> None:
            unknown, charge = self._doubt_records(call, "OutcomeUnknownError")
            self.store.mark_sent(unknown, charge, owner=owner, origin=call.slot, ttl=ttl)
            if not marked:
                marked.append(True)

        return mark_sent

    def _record_doubt(
        self, call: _Call, owner: str, exc: OutcomeUnknownError | ProtocolError
    ) -> tuple[bool, OutcomeUnknownError | ProtocolError]:
        """Record the unknown outcome of ``call`` (ledger row at the worst case, the doubt
        under its key, the formula's mark, the claim's release: one transaction). Returns
        whether it was stored, and the error to raise from ``exc``: the message every later
        call will give, with ``exc``'s own words first in its details."""
        error_kind = "ProtocolError" if isinstance(exc, ProtocolError) else "OutcomeUnknownError"
        unknown, stored = self._keep_doubt(call, owner, error_kind)
        template = self._doubt_error(call, unknown)
        details = f"{exc.full_message} {exc.details}. {template.details}"
        doubt: OutcomeUnknownError | ProtocolError
        if isinstance(exc, ProtocolError):
            doubt = ProtocolError(
                template.full_message,
                details=details,
                path=exc.path,
                may_be_charged=exc.may_be_charged,
                unknown_outcome=unknown,
            )
        else:
            doubt = OutcomeUnknownError(
                template.full_message, details=details, path=exc.path, unknown_outcome=unknown
            )
        return stored, doubt

    def _keep_doubt(self, call: _Call, owner: str, error_kind: str) -> tuple[UnknownOutcome, bool]:
        """Write the unknown outcome of ``call`` and release ``owner``'s claim (one
        transaction; the journal if the store fails). The outcome, and whether it was stored."""
        from ..budget import format_money

        unknown, charge = self._doubt_records(call, error_kind)
        estimate = unknown.amount
        stored = True
        try:
            self.store.record_unknown(
                unknown,
                charge,
                owner=owner,
                origin=call.slot,
                retry_for=C.STORE_WRITE_RETRY_SECONDS,
            )
        except StoreError as store_exc:  # kept in the journal (or the log): imported later
            log.error("could not record an unknown outcome: %s", store_exc.details)
            stored = False
        # info, not warning: the error raised says all of it (a CLI would print it twice).
        log.info(
            "%s %s %s: outcome unknown (%s), recorded at up to %s",
            call.mode,
            call.kind,
            call.key[:12],
            error_kind,
            format_money(estimate),
        )
        return unknown, stored
