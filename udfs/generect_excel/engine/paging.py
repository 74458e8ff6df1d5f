"""Paging through the register of owned leads: criteria families, the body sent for a
search, the family's turn (see :mod:`generect_excel.engine`, "Owned leads")."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from .. import _constants as C
from ..errors import StoreError
from ..models import canonical_json, wire_body
from ..operations import operation
from ..store import CacheEntry, new_owner
from ..store.register import OwnedLead, PageFacts
from . import keys
from .base import _EngineBase
from .keys import _Call, _local_bound, _Request, make_cache_key

log = logging.getLogger("generect_excel.engine")

# The store claim that gives one process at a time, on any machine, its turn at a criteria
# family: an in-flight claim under this prefix and the family's key (never a cache key, which is
# bare hex), so a dead holder's turn is taken over like any abandoned claim.
FAMILY_CLAIM_PREFIX = "family:"


def _never_fresh(entry: CacheEntry) -> bool:
    return False  # a family claim has no answer of its own to wait for


class _PagingMixin(_EngineBase):
    """The register's side of a search."""

    def _criteria_key(self, call: _Call) -> str:
        """The criteria family of a search: its key without the page (limit, offset) and our
        own options. Pages of one family never overlap (see :meth:`_wire`)."""
        return self._family_key(call.endpoint.path, call.body)

    def _family_key(self, path: str, body: dict[str, Any]) -> str:
        question = {
            k: v for k, v in body.items() if k not in ("limit_by", "offset_by", "new_leads_only")
        }
        return make_cache_key(
            path, canonical_json(question), self.settings.base_url, self.settings.account
        )

    def owned_leads(
        self, request: _Request | None = None, *, since: date | datetime | None = None
    ) -> list[OwnedLead]:
        """The register of owned leads (every lead bought, once), oldest first: all of it, or
        the leads bought by searches with ``request``'s criteria (any page, either mode);
        ``since`` keeps leads first bought from that day (local) or moment on."""
        keys = None
        if request is not None:
            body = request.body()
            keys = [
                self._family_key(operation("search", mode).path, body)
                for mode in ("database", "realtime")
            ]
        return self.store.owned_leads(_local_bound(since, end=False), criteria_keys=keys)

    def _wire(self, call: _Call, family: str | None) -> tuple[dict[str, Any], PageFacts | None]:
        """The body to send for ``call`` and what the register excluded from it.

        The cache key stays the analyst's question; what goes on the wire changes with the
        register. A search excludes (``exclude_ids``) the leads bought for the same criteria by
        pages at another offset, and its ``offset_by`` skips only the earlier positions nobody
        bought (``offset`` minus the leads of earlier pages; 0 once they were all bought), so
        pages never overlap whatever Generect's order. "New leads only" also excludes the
        register's most recent ``C.NET_NEW_MAX_EXCLUDE_IDS`` leads (test-mode leads apart).
        """
        body = wire_body(call.body)
        if not call.endpoint.register or family is None:
            return body, None
        offset = int(call.body.get("offset_by") or 0)
        page_ids, earlier = self.store.page_exclusions(family, offset)
        owned_ids: list[str] = []
        owned = 0
        if call.body.get("new_leads_only"):
            owned_ids, owned = self.store.recent_lead_ids(
                self.settings.base_url, self.settings.test_mode_key, C.NET_NEW_MAX_EXCLUDE_IDS
            )
        own = list(body.get("exclude_ids") or [])
        excluded = list(dict.fromkeys([*own, *page_ids, *owned_ids]))
        if len(excluded) > len(own):
            body["exclude_ids"] = excluded
        wire_offset = max(0, offset - earlier)
        if wire_offset != offset:  # else the body goes as asked (the ledger's request)
            if wire_offset:
                body["offset_by"] = wire_offset
            else:
                body.pop("offset_by", None)
        rule = ""
        if call.body.get("new_leads_only"):
            rule = "new leads only"
            if owned > len(owned_ids):
                rule += f" (the {len(owned_ids):,} most recent of {owned:,} owned)"
        elif page_ids:
            rule = "other pages"
        facts = PageFacts(
            new=0,
            rows=0,
            excluded=len(excluded) - len(own),
            owned=owned,
            rule=rule,
            wire_offset=wire_offset,
        )
        return body, facts

    def _family_lock(self, family: str) -> threading.Lock:
        with keys._flights_lock:
            return keys._families.setdefault((self._store_id, family), threading.Lock())

    @contextlib.contextmanager
    def _family_turn(self, family: str, ttl: float) -> Iterator[Callable[[], None]]:
        """Hold the criteria family ``family`` while one of its pages is fetched and saved.

        Pages of one family must not be on the wire at once, or they buy the same leads: each
        must read the register after the others saved. Threads of this process queue on a lock;
        processes (two laptops on the team store, Excel and the CLI on one file) on a claim in
        the store, polled like a busy request's. The claim lives ``ttl`` seconds, a page's
        own claim's life; a holder that died is judged as for any claim (its process on this
        machine, its expiry on another) and its turn taken over: it bought nothing it did not
        save, or its page's own claim records the doubt.

        Yields ``renew``, to call each time the page's request leaves (with the page's own
        claim's mark): the turn then lives ``ttl`` seconds from the last attempt, as the page's
        own claim does, so retries that outlast one ``ttl`` do not hand the turn to another
        process while the page is still on the wire. ``renew`` raises :class:`StoreError`
        (and the request must not leave) when another process has taken the turn."""
        with self._family_lock(family):
            key, owner = FAMILY_CLAIM_PREFIX + family, new_owner()
            pause = C.INFLIGHT_POLL_INTERVAL
            while self.store.claim(key, owner, ttl=ttl, is_fresh=_never_fresh).state != "claimed":
                self.store.wait_for_release(key, pause)  # another is buying a page of it
                pause = min(pause * 1.5, C.INFLIGHT_POLL_MAX_INTERVAL)

            def renew() -> None:
                if not self.store.extend(key, owner, ttl=ttl):
                    raise StoreError(
                        "Another process took this criteria family's turn while this page "
                        "waited to be sent, so it was not sent: recalculate.",
                        details=f"the claim on {key[:40]} is no longer {owner}'s",
                    )

            try:
                yield renew
            finally:
                try:
                    self.store.release(key, owner)
                except StoreError as exc:  # it expires by itself; say why others may wait
                    log.warning("could not release a criteria family's turn: %s", exc.details)
