"""What a ribbon action needs besides the workbook (:class:`Context`: settings, engine,
platform, clock), and how it talks to the analyst: the status bar, a confirmation, message lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .book import App

if TYPE_CHECKING:
    from ..ports import EngineAPI
    from ..settings import Settings

log = logging.getLogger(__name__)

TITLE = "Generect"
MAX_LISTED = 5  # cells named in a message before "and N more"


def _local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class Context:
    """What an action needs besides the workbook; every part injectable for tests.

    ``platform`` decides how Refresh works (``"darwin"``: through the saved file);
    ``clock`` gives the aware local time (the refresh token); ``settings`` and ``engine``
    default to :func:`~generect_excel.settings.load_settings` and an
    :class:`~generect_excel.engine.Engine` on them.
    """

    settings: Settings | None = None
    engine: EngineAPI | None = None
    platform: str = field(default_factory=lambda: sys.platform)
    clock: Callable[[], datetime] = _local_now

    def get_settings(self) -> Settings:
        if self.settings is None:
            if self.engine is not None:
                self.settings = self.engine.settings
            else:
                from ..settings import load_settings

                self.settings = load_settings()
        return self.settings

    def get_engine(self) -> EngineAPI:
        if self.engine is None:
            from ..engine import Engine

            self.engine = Engine(self.get_settings())
        return self.engine

    @property
    def on_mac(self) -> bool:
        return self.platform == "darwin"


@contextmanager
def _status(app: App, text: str) -> Iterator[None]:
    """Excel's status bar says what is going on, and is handed back to Excel afterwards."""
    try:
        app.status_bar = text
    except Exception:  # a status bar is a nicety: never fail an action for it
        log.debug("status bar not set", exc_info=True)
    try:
        yield
    finally:
        try:
            app.status_bar = False
        except Exception:
            log.debug("status bar not reset", exc_info=True)


def _confirm(app: App, prompt: str) -> bool:
    return app.alert(prompt, title=TITLE, buttons="ok_cancel", mode="info") == "ok"


def _listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        shown += f"; and {len(items) - limit} more"
    return shown


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"
