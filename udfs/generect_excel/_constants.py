"""Tunables in one place (anthropic-sdk's ``_constants.py``).

Every number the product relies on lives here, named, with the reason beside it.
"""

from __future__ import annotations

from decimal import Decimal

DEFAULT_BASE_URL = "https://api.generect.com"

# Paths, each with the trailing slash Generect requires.
PATH_DATABASE_SEARCH = "/api/v1/search/database/leads/"
PATH_DATABASE_COUNT = "/api/v1/search/database/leads/count/"
PATH_REALTIME_SEARCH = "/api/v1/search/realtime/leads/"
PATH_REALTIME_COUNT = "/api/v1/search/realtime/leads/count/"
PATH_DATABASE_COMPANIES = "/api/v1/search/database/companies/"
PATH_DATABASE_COMPANY_COUNT = "/api/v1/search/database/companies/count/"
PATH_REALTIME_COMPANIES = "/api/v1/search/realtime/companies/"
PATH_REALTIME_COMPANY_COUNT = "/api/v1/search/realtime/companies/count/"
PATH_ACCOUNT = "/api/v1/accounts/me/"
PATH_TRANSACTIONS = "/api/v1/accounts/transactions/"

# Timeouts in seconds. Generect recommends 300 s for lead search; database calls answer
# in under a second, so a short read timeout there surfaces a hung server quickly.
CONNECT_TIMEOUT = 10.0
DATABASE_TIMEOUT = 60.0
REALTIME_TIMEOUT = 300.0
ACCOUNT_TIMEOUT = 30.0

# Generect allows 50 lead searches in flight per key and IP; stay well under it so that
# Excel, the CLI and a scheduled refresh on one machine never trip it together.
DEFAULT_MAX_PARALLEL = 8

# Retry policy (see client.RetryPolicy): 0.5 s doubling to 8 s, with jitter.
MAX_RETRIES = 4
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0  # a Retry-After beyond this is not "sane": fall back to backoff

# Generect's billing history (reconcile.py): the ``type`` a transaction carries for each billable
# path (the spec's example names ``search_database_leads``; the others follow its pattern).
TRANSACTION_TYPES = {
    PATH_DATABASE_SEARCH: "search_database_leads",
    PATH_REALTIME_SEARCH: "search_realtime_leads",
    PATH_REALTIME_COUNT: "count_realtime_leads",
    PATH_DATABASE_COMPANIES: "search_database_companies",
    PATH_REALTIME_COMPANIES: "search_realtime_companies",
    PATH_REALTIME_COMPANY_COUNT: "count_realtime_companies",
}
# Transactions asked for per page (the legacy API caps pages at 100), and the most pages one
# listing reads before it is refused as runaway paging.
TRANSACTIONS_PAGE_SIZE = 100
TRANSACTIONS_MAX_PAGES = 1000
# How far the clocks of this computer and Generect may disagree when a charge is matched to
# a ledger row by time (each side of the row's time).
RECONCILE_CLOCK_SKEW = 120.0
# A lost call is settled as "not charged" only once no charge for it can still appear: the
# server may finish a request after the client gave up (Generect recommends a 300 s timeout).
RECONCILE_QUIET_SECONDS = 900.0
# `generect-excel reconcile` without --since looks back this many days.
RECONCILE_DEFAULT_DAYS = 30
# Throttling (429) is never charged, so it is waited out, bounded by time rather than by a
# count of attempts: a shared office cap can stay busy for a while. Minutes, a setting.
DEFAULT_MAX_THROTTLE_WAIT = 10.0
# The adaptive concurrency limit (throttle.py): each 429 multiplies the requests allowed in
# flight by this (at most once per round of requests), each answer adds 1/limit back. 0.7
# (TCP CUBIC's factor) rather than Reno's 0.5: a 429 is free and answers at once, so probing
# one above the cap costs little, and halving left the limit below the cap half the time
# (benchmarks/bench_throttle.py: wall time 1.30-1.50 x ideal with 0.5, 1.18-1.44 with 0.7).
THROTTLE_DECREASE = 0.7

# Published prices in USD, used only for worst-case estimates before a call. The truth is
# always the answer's meta.amount_charged.
PRICE_DATABASE_ROW = Decimal("0.02")
PRICE_REALTIME_ROW = Decimal("0.04")
PRICE_REALTIME_COUNT = Decimal("0.04")
PRICE_DATABASE_COUNT = Decimal("0")
# Company search bills per company returned, like lead search (the spec's examples: 530
# companies for $10.60 in database mode, $21.20 in realtime); its counts like lead counts.
PRICE_DATABASE_COMPANY = Decimal("0.02")
PRICE_REALTIME_COMPANY = Decimal("0.04")
PRICE_REALTIME_COMPANY_COUNT = Decimal("0.04")

# Budget defaults (USD). Test-mode keys never count against them.
DEFAULT_MAX_SPEND_PER_REQUEST = Decimal("5")
DEFAULT_MAX_SPEND_PER_DAY = Decimal("25")

# Free database counts may be re-fetched after this many seconds; paid answers never expire.
DEFAULT_FREE_COUNT_MAX_AGE = 24 * 3600

# Paging limits for filter-only searches (no company anchor).
MAX_LIMIT = 2400
MAX_OFFSET = 2399
MAX_LIMIT_PLUS_OFFSET = 2400
# Company search pages (the spec: limit_by 1-1600, offset_by 0-1599).
MAX_COMPANY_LIMIT = 1600
MAX_COMPANY_OFFSET = 1599

# "New leads only" sends at most this many of the register's ids (the most recently bought) in
# exclude_ids: about 25 bytes each, so ~0.25 MB of request body. Measured by
# benchmarks/bench_register.py; the README ("The register of owned leads") explains the choice.
NET_NEW_MAX_EXCLUDE_IDS = 10_000

# Excel's cell limits.
EXCEL_MAX_CELL_CHARS = 32767
EXCEL_MAX_ROWS = 1_048_576

# Writing a workbook file (formulas/xlsxpatch): zip members up to this size are kept in memory
# once read (the workbook part, relationships); bigger ones (worksheets) are read when needed,
# so one big sheet is held at a time. Copies and patched sheets go to the zip in chunks.
WORKBOOK_KEPT_MEMBER_BYTES = 1 << 20
WORKBOOK_WRITE_CHUNK_BYTES = 1 << 20

# Worksheet functions' error prefix: classic xlwings cannot return real Excel error values,
# so every error in a cell starts with this and stays on one short line.
CELL_ERROR_PREFIX = "#GENERECT!"
CELL_MESSAGE_MAX = 120

# The environment variables we read.
ENV_API_KEY = "GENERECT_API_KEY"
ENV_BASE_URL = "GENERECT_BASE_URL"
ENV_HOME = "GENERECT_HOME"
ENV_CONFIG_FILE = "GENERECT_CONFIG"
KEYRING_SERVICE = "generect-excel"
KEYRING_USERNAME = "api-key"
# The team store (issue 15): its URL, and the keyring entry of its password when the URL has none.
ENV_STORE_URL = "GENERECT_STORE_URL"
KEYRING_STORE_PASSWORD = "store-password"

# The local store (store/, engine/). A writer waits this long for another writer (Excel,
# the CLI, a scheduled refresh) before the store is reported as locked.
STORE_BUSY_TIMEOUT = 5.0
# After the API has answered (and so may have charged), saving the answer is retried this long
# before the charge is written to the fallback journal next to the store instead.
STORE_WRITE_RETRY_SECONDS = 3.0
# A process waiting for another process's identical request polls the store this often.
INFLIGHT_POLL_INTERVAL = 0.05
INFLIGHT_POLL_MAX_INTERVAL = 0.5
# An in-flight claim older than the request timeout plus the throttling wait
# (settings.max_throttle_wait) plus this margin is abandoned (its owner crashed or hung) and
# may be taken over.
INFLIGHT_CLAIM_MARGIN = 60.0
# Idle SQLite connections a store keeps open for reuse (opening one costs more than a cached
# read), and the decoded answers it keeps in memory so a recalculation does not parse the
# same stored JSON again (bounded by count and by the stored text's total length).
STORE_IDLE_CONNECTIONS = 8
# At most this often, a reused connection checks that the store's path still names its file
# (a store moved aside or replaced is then opened afresh).
STORE_FILE_CHECK_SECONDS = 1.0
STORE_MEMO_ENTRIES = 512
STORE_MEMO_CHARS = 16_000_000
# A batched read of stored answers (the dry run's, the refresher's) asks for this many keys per
# SELECT: 3 parameters each stays below 999, the parameter limit of SQLite before 3.32.
STORE_BATCH_KEYS = 300
# The ledger is read this many rows at a time by exports (``generect-excel spend --csv``):
# memory stays one page whatever the ledger's size, and a page's query costs far less than it.
LEDGER_PAGE_ROWS = 2_000
# The engine keeps the validated results of that many lead rows in memory, the worksheet
# functions the shaped tables of that many cells (for recalculations of unchanged answers).
RESULT_MEMO_ROWS = 20_000
TABLE_MEMO_CELLS = 400_000
# The account endpoint is free; a short cache keeps a sheet of GENERECT_BALANCE() cells cheap.
ACCOUNT_CACHE_SECONDS = 60.0

# The worksheet functions whose result spills over several cells (the others give one value):
# described in the registry of worksheet functions, named here too for older importers.
from .worksheet import SPILLING as SPILLING_FUNCTIONS  # noqa: E402, F401

# Issue 14: preview, enrich by id, work emails (paths with Generect's trailing slash).
PATH_PREVIEW_LEADS = "/api/v1/preview/leads/"
PATH_ENRICH_DATABASE_LEAD = "/api/v1/enrich/database/lead/"
PATH_EMAIL_FIND = "/api/v1/email/find/"
PATH_EMAIL_FIND_BULK = "/api/v1/email/find/bulk/"
PATH_EMAIL_FIND_BULK_JOB = "/api/v1/email/find/bulk/{job_id}/"
# Published prices (FACTS.md "Learned since", billing/pricing.mdx): a masked preview row, one
# database enrichment, one found email (the spec's "Found" example charges 0.02; a miss is free).
PRICE_PREVIEW_ROW = Decimal("0.002")
PRICE_ENRICH_DATABASE_LEAD = Decimal("0.02")
PRICE_EMAIL_FOUND = Decimal("0.02")
# Preview is free for the rest of a calendar month once that month's spend reaches this
# (``preview_tier`` on accounts/me says so; the sandbox computes it from its own debits).
PREVIEW_TIER_SPEND = Decimal("2000")
# A preview row limit when the formula gives none, and the most one preview may ask for
# (Generect's database search caps limit_by at 1000 without a company; preview shares it).
PREVIEW_DEFAULT_LIMIT = 100
PREVIEW_MAX_LIMIT = 1000
# Bulk email jobs take at most 50 leads and keep their results 24 hours (limits.mdx); the
# sandbox serves them, the product finds emails one call per lead (README, "Work emails").
EMAIL_BULK_MAX = 50
# Their billing-history ``type``s (following the pattern of the spec's ``search_database_leads``).
TRANSACTION_TYPES.update(
    {
        PATH_PREVIEW_LEADS: "preview_leads",
        PATH_ENRICH_DATABASE_LEAD: "enrich_database_lead",
        PATH_EMAIL_FIND: "email_find",
        PATH_EMAIL_FIND_BULK_JOB: "email_find_bulk",
    }
)
