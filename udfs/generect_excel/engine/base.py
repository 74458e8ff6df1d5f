"""The engine's parts and its reading of stored answers: what every part of
:class:`~generect_excel.engine.Engine` relies on (moved out of :mod:`generect_excel.engine`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from .. import _constants as C
from ..client import Endpoint, shared_client
from ..errors import StoreError
from ..ledger import Origin
from ..memo import BoundedMemo
from ..models import canonical_json
from ..operations import operation
from ..responses import Account
from ..settings import Settings
from ..store import CacheEntry, StoreBackend, open_store
from .keys import (
    Answer,
    Kind,
    _Call,
    _Client,
    _origin_slot,
    _Request,
    _utcnow,
    make_cache_key,
    refresh_token,
)

log = logging.getLogger("generect_excel.engine")  # the engine's one logger, whichever module logs


class _EngineBase:
    """The engine's state, its parts, and what the store answers a call with."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: _Client | None = None,
        store: StoreBackend | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self._client = client
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._account: tuple[float, Account] | None = None
        self._account_lock = threading.Lock()
        self._store_key: str | None = None
        # cache key -> (the stored answer dict, its kind, the validated result): the store
        # hands back the same dict while the entry is unchanged, so a recalculation does not
        # validate the same answer again. Results are frozen models, shared read-only.
        self._results: BoundedMemo[str, tuple[dict[str, Any], str, Any]] = BoundedMemo(
            C.STORE_MEMO_ENTRIES, C.RESULT_MEMO_ROWS
        )
        # (kind, id of a request) -> (the request, its endpoint, body, canonical JSON, key): the
        # worksheet functions hand over the same (frozen) request object for the same cells.
        self._keys: BoundedMemo[tuple[str, int], tuple[Any, Endpoint, dict[str, Any], str, str]]
        self._keys = BoundedMemo(C.STORE_MEMO_ENTRIES, C.STORE_MEMO_ENTRIES)

    # -- parts -----------------------------------------------------------------------------

    @property
    def store(self) -> StoreBackend:
        """The store (opened on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings)
        return self._store

    @property
    def client(self) -> _Client:
        """The API client (the shared one unless injected); raises SettingsError without a key."""
        if self._client is not None:
            return self._client
        return shared_client(self.settings)

    @property
    def _store_id(self) -> str:
        # Engines on the same store (however its path is spelled) share their flights.
        if self._store_key is None:
            self._store_key = self.store.location
        return self._store_key

    def _call(self, kind: Kind, request: _Request, refresh: Any, origin: Origin | None) -> _Call:
        mode = str(request.mode)
        kept = self._keys.get((kind, id(request)))
        if kept is not None and kept[0] is request:
            _, endpoint, body, canonical, key = kept
        else:
            endpoint = operation(kind, mode)
            body = request.body()
            canonical = canonical_json(body)
            key = make_cache_key(
                endpoint.path, canonical, self.settings.base_url, self.settings.account
            )
            self._keys.put((kind, id(request)), (request, endpoint, body, canonical, key))
        return _Call(
            kind=kind,
            mode=mode,
            endpoint=endpoint,
            body=body,
            canonical=canonical,
            key=key,
            token=refresh_token(refresh),
            slot=_origin_slot(origin),
            origin=origin,
        )

    # -- the flow --------------------------------------------------------------------------

    def _usable(self, call: _Call, entry: CacheEntry, mark: str | None) -> bool:
        """Whether a stored entry answers this call without a fetch."""
        if call.token is not None and call.token not in (mark, entry.refresh_token):
            return False
        if not entry.billable:  # a free database count: re-fetched when old
            age = self._clock() - entry.fetched_at
            if age > timedelta(seconds=self.settings.free_count_max_age):
                return False
        return True

    def _result(self, call: _Call, entry: CacheEntry) -> Any:
        """The stored answer as a result model, validated once per stored answer."""
        kept = self._results.get(call.key)
        if kept is not None and kept[0] is entry.answer and kept[1] == call.kind:
            return kept[2]
        model = call.endpoint.answer
        assert model is not None, call.endpoint.name  # every stored operation has one
        try:
            result = _validate_stored(model, call.endpoint.rows_field, entry.answer)
        except ValidationError as exc:
            raise StoreError(
                "A stored answer cannot be read (another version?). "
                "Change the formula's refresh value to fetch it again.",
                details=f"{self.store.location}: entry {call.key[:12]}: {exc}",
            ) from exc
        rows = len(getattr(result, call.endpoint.rows_field, ())) if call.endpoint.rows_field else 0
        self._results.put(call.key, (entry.answer, call.kind, result), weight=rows + 1)
        return result

    def _from_entry(self, call: _Call, entry: CacheEntry) -> Answer:
        result = self._result(call, entry)
        return Answer(
            result=result,
            from_cache=True,
            fetched_at=entry.fetched_at,
            cache_key=call.key,
            kind=call.kind,
            mode=call.mode,
            test_mode=entry.test_mode,
        )

    def _remember_token(self, call: _Call, mark: str | None) -> None:
        # Only when it changes: a cache hit normally writes nothing.
        if call.token is not None and mark != call.token:
            try:
                self.store.set_refresh_mark(call.key, call.slot, call.token)
            except StoreError as exc:  # the answer is good; the next call may fetch again
                log.warning("could not record a refresh value: %s", exc.details)

    def _claim_ttl(self, call: _Call) -> float:
        """How long a claim on ``call`` lives (from its taking, and again from each send). A live
        call may wait out throttling for max_throttle_wait before it is even answered: its
        claim must not expire meanwhile, or another process would buy the same answer."""
        return (
            call.endpoint.timeout + self.settings.max_throttle_wait * 60 + C.INFLIGHT_CLAIM_MARGIN
        )


# Answer models whose rows field is a plain list of objects (kept as the raw dicts): the
# stored rows of those can be taken as they are (see _validate_stored).
_RAW_ROWS = list[dict[str, Any]]


def _validate_stored(model: Any, rows_field: str, answer: dict[str, Any]) -> Any:
    """``model.model_validate(answer)`` for an answer read back from the store, at a fraction
    of its cost for searches: every field is validated but the rows, which are set as stored.

    Safe because the store holds ``model_dump(mode="json")`` of a result validated when it
    arrived, and a raw-rows field's validation only checks "a list of objects" and copies each
    row (25 to 2,400 dicts of ~80 keys: most of a recalculation's validation time); that check
    is made here too, and anything else gets the full validation (and its error)."""
    rows = answer.get(rows_field) if rows_field else None
    field = model.model_fields.get(rows_field) if rows_field else None
    if (
        field is None
        or field.annotation != _RAW_ROWS
        or type(rows) is not list
        or not all(type(row) is dict for row in rows)
    ):
        return model.model_validate(answer)
    head = model.model_validate({**answer, rows_field: []})
    return head.model_copy(update={rows_field: rows})
