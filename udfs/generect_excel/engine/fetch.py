"""Claiming, reserving, fetching and saving: what the engine does when the store has no
answer (see :mod:`generect_excel.engine`, steps 3 to 5)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .. import _constants as C
from .. import budget
from ..errors import GenerectError, OutcomeUnknownError, ProtocolError, StoreError
from ..ledger import Charge, Origin, period_bounds
from ..responses import SearchResult
from ..store import CacheEntry, Found, Reservation, UnknownOutcome, new_owner
from ..store.register import Purchase
from .doubt import _DoubtMixin
from .keys import Answer, _Call
from .paging import _PagingMixin

log = logging.getLogger("generect_excel.engine")  # the engine's one logger, whichever module logs


class _FetchMixin(_DoubtMixin, _PagingMixin):
    """A call the store cannot answer: claimed, priced, fetched, saved."""

    def _reservation(self, call: _Call) -> Reservation | None:
        """What this call holds against the caps while in flight (None: free or test mode).

        Its check runs inside the store's claim transaction, against today's ledger plus every
        live claim's reservation, so processes sharing the store cannot both pass the cap."""
        if self.settings.test_mode_key:
            return None
        estimate = call.endpoint.estimate(call.body)
        if estimate <= 0:
            return None
        since, until = period_bounds("today", self._clock())
        settings, what = self.settings, f"This {call.mode} {call.kind}"

        def admit(spent: Decimal, reserved: Decimal) -> None:
            budget.check(estimate, spent, settings, what=what, reserved=reserved)

        return Reservation(estimate, since, until, admit)

    def _lead(self, call: _Call, found: Found) -> Answer:
        self.client  # noqa: B018 - no key? fail now, before claiming or reserving anything
        return self._claim_and_fetch(call, found)

    def _claim_and_fetch(self, call: _Call, found: Found) -> Answer:
        store = self.store
        owner = new_owner()
        ttl = self._claim_ttl(call)
        seen, mark = found.entry, found.mark
        seen_at = seen.fetched_at if seen is not None else None
        seen_doubt = found.unknown.charge_id if found.unknown is not None else None
        reservation = self._reservation(call)

        def is_fresh(entry: CacheEntry) -> bool:
            # Written since we looked (another process fetched it for us), or usable as is.
            return entry.fetched_at != seen_at or self._usable(call, entry, mark)

        def is_new_doubt(unknown: UnknownOutcome) -> bool:
            # Recorded since we looked: another process sent this very call and lost it.
            return unknown.charge_id != seen_doubt

        pause = C.INFLIGHT_POLL_INTERVAL
        while True:
            claim = store.claim(
                call.key,
                owner,
                ttl=ttl,
                is_fresh=is_fresh,
                is_new_doubt=is_new_doubt,
                reservation=reservation,
            )
            if claim.state == "claimed":
                break
            if claim.state == "cached" and claim.entry is not None:
                log.debug("answered by another process: %s", call.key[:12])
                self._remember_token(call, mark)
                return self._from_entry(call, claim.entry)
            if claim.state == "unknown" and claim.unknown is not None:
                if claim.abandoned and call.token not in (None, claim.unknown.token):
                    # A dead process's call, recorded just now; this one asked for a refresh
                    # the dead one did not have: it is sent (and claimed) afresh.
                    seen_doubt = claim.unknown.charge_id
                    continue
                error = self._doubt_error(call, claim.unknown)
                self._remember_doubt(call, error)
                raise error
            store.wait_for_release(call.key, pause)  # another process is fetching it
            pause = min(pause * 1.5, C.INFLIGHT_POLL_MAX_INTERVAL)

        released = False
        marked: list[bool] = []  # one True once the claim is marked sent (the request left)
        try:
            answer = self._fetch_and_save(call, owner, marked)
            released = True  # saving released the claim
            return answer
        except (OutcomeUnknownError, ProtocolError) as exc:
            if not self._maybe_charged(call, exc):
                raise
            released, doubt = self._record_doubt(call, owner, exc)
            raise doubt from exc
        except BaseException as exc:
            # Interrupted (Ctrl+C) or broken after the request left and before its answer was
            # saved: it may have been charged, so it is recorded like a lost answer, not
            # released. (Our own errors here are answers saying it was not charged, or a
            # save that failed with the charge kept in the journal.)
            if marked and not isinstance(exc, GenerectError):
                released = self._keep_doubt(call, owner, "OutcomeUnknownError")[1]
            raise
        finally:
            if not released:
                try:
                    store.release(call.key, owner)
                except StoreError as exc:  # it expires by itself; say why others may wait
                    log.warning("could not release an in-flight claim: %s", exc.details)

    def _fetch_and_save(self, call: _Call, owner: str, marked: list[bool]) -> Answer:
        if not call.endpoint.register:  # only searches that buy leads page through the register
            return self._fetch_and_save_locked(call, owner, None, marked)
        family = self._criteria_key(call)
        with self._family_turn(family, self._claim_ttl(call)) as renew:
            return self._fetch_and_save_locked(call, owner, family, marked, renew)

    def _fetch_and_save_locked(
        self,
        call: _Call,
        owner: str,
        family: str | None,
        marked: list[bool],
        renew_turn: Callable[[], None] | None = None,
    ) -> Answer:
        client = self.client
        wire, facts = self._wire(call, family)
        log.info("fetching %s %s %s", call.mode, call.kind, call.key[:12])
        # A free call needs no mark: lost, it costs nothing and may simply be asked again.
        on_send = self._marker(call, owner, marked) if call.endpoint.billable else None
        if renew_turn is not None:  # the family's turn lives as long as the page's claim
            on_send = _renewing(renew_turn, on_send)
        result: Any
        if hasattr(client, "send"):  # any described operation
            result = client.send(call.endpoint, wire, on_send=on_send)
        else:  # a client offering only its lead methods (``search``, ``count``)
            result = getattr(client, call.kind)(call.mode, wire, on_send=on_send)
        if facts is not None and isinstance(result, SearchResult):
            facts = replace(facts, rows=len(result.leads))
            result = result.model_copy(update={"register_facts": facts.to_json()})
        now = self._clock()
        test_mode = self.settings.test_mode_key or result.test_mode
        # meta.amount_charged is the truth: a charge on an endpoint believed free is recorded
        # too (and its answer, being paid for, never expires).
        paid = call.endpoint.billable or result.amount_charged > 0
        entry = CacheEntry(
            key=call.key,
            endpoint=call.endpoint.path,
            mode=call.mode,
            base_url=self.settings.base_url,
            account=self.settings.account,
            request=call.canonical,
            answer=result.model_dump(mode="json"),
            amount_charged=result.amount_charged,
            fetched_at=now,
            refresh_token=call.token,
            billable=paid,
            test_mode=test_mode,
        )
        charge = None
        if paid:
            charge = Charge(
                charge_id=uuid.uuid4().hex,
                time=now,
                endpoint=call.endpoint.path,
                mode=call.mode,
                request=call.body,
                rows=len(getattr(result, call.endpoint.rows_field, ())),
                results_count=result.results_count,
                amount_charged=result.amount_charged,
                test_mode=test_mode,
                account=self.settings.account,
                base_url=self.settings.base_url,
                cache_key=call.key,
                origin=call.origin or Origin(),
            )
        purchase = None
        if call.endpoint.owns_leads and isinstance(result, SearchResult):
            family = family or call.key  # a lead bought by id: its own "criteria family"
        if charge is not None and family is not None and isinstance(result, SearchResult):
            purchase = Purchase(
                charge_id=charge.charge_id,
                time=now,
                base_url=self.settings.base_url,
                account=self.settings.account,
                test_mode=test_mode,
                mode=call.mode,
                cache_key=call.key,
                criteria_key=family,
                page_offset=int(call.body.get("offset_by") or 0),
                request=call.canonical,
                origin=call.origin or Origin(),
                amount_charged=result.amount_charged,
                leads=result.leads,
            )
        new = self.store.save(
            entry,
            charge,
            owner=owner,
            mark=(call.slot, call.token) if call.token is not None else None,
            retry_for=C.STORE_WRITE_RETRY_SECONDS,
            purchase=purchase,
        )
        if (
            new is not None
            and isinstance(result, SearchResult)
            and result.register_facts is not None
        ):
            result = result.model_copy(
                update={"register_facts": {**result.register_facts, "new": new}}
            )
        return Answer(
            result=result,
            from_cache=False,
            fetched_at=now,
            cache_key=call.key,
            kind=call.kind,
            mode=call.mode,
            test_mode=test_mode,
        )


def _renewing(renew: Callable[[], None], mark: Callable[[], None] | None) -> Callable[[], None]:
    """``on_send`` for a page of a criteria family: its family's turn renewed, then its own
    claim marked sent (either raising: the request does not leave)."""

    def on_send() -> None:
        renew()
        if mark is not None:
            mark()

    return on_send
