"""The sandbox over real HTTP: Generect's contract, prices, filters and validation.

Every answer these tests receive is checked against Generect's openapi.yaml
(``assert_conforms``), except the deliberately broken ones of the robustness faults
(tests/test_sandbox_faults.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_conforms, conforming_client
from generect_excel import _constants as C
from generect_excel.errors import SettingsError
from generect_excel.sandbox import Population, Sandbox, SandboxConfig
from generect_excel.sandbox.validation import DATABASE_FIELDS, REALTIME_ONLY_FIELDS
from generect_excel.settings import key_fingerprint
from generect_excel.vocab import get_vocabulary

LIVE = "live-key-pytest-7f3a"
TEST = "test_pytest"


def connect(sandbox: Sandbox, key: str | None = LIVE) -> httpx.Client:
    """A client whose every answer is checked against Generect's spec."""
    return conforming_client(sandbox.url, key)


@pytest.fixture
def live(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with connect(sandbox, LIVE) as client:
        yield client


@pytest.fixture
def test_key(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with connect(sandbox, TEST) as client:
        yield client


def call(client: httpx.Client, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    """POST (GET for the account) and check the answer against the spec."""
    if path == C.PATH_ACCOUNT:
        response = client.get(path, **kwargs)
    else:
        response = client.post(path, json=body, **kwargs)
    return response.status_code, assert_conforms(response)


def search(client: httpx.Client, body: dict[str, Any], mode: str = "database") -> dict[str, Any]:
    path = C.PATH_REALTIME_SEARCH if mode == "realtime" else C.PATH_DATABASE_SEARCH
    status, answer = call(client, path, body)
    assert status == 200, answer
    return answer


def count(client: httpx.Client, body: dict[str, Any], mode: str = "database") -> Any:
    path = C.PATH_REALTIME_COUNT if mode == "realtime" else C.PATH_DATABASE_COUNT
    status, answer = call(client, path, body)
    assert status == 200, answer
    return answer["data"]["results_count"]


def lead_id(row: dict[str, Any]) -> str:
    return row.get("lead_id") or row["id"]


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@pytest.fixture(scope="module")
def rows(sandbox_population: Population) -> list[dict[str, Any]]:
    """Every lead as a database search returns it: the brute-force truth for filters."""
    return [sandbox_population.database_row(i) for i in range(sandbox_population.size)]


def expect(rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [lead_id(r) for r in rows if keep(r)]


# --------------------------------------------------------------------------- filters
def ids(leads: list[dict[str, Any]]) -> list[str]:
    """The leads' ids in a fixed order: the sandbox's order moves between calls (as live)."""
    return sorted(lead_id(r) for r in leads)


def test_job_titles_match_titles_containing_all_words(
    test_key: httpx.Client, rows: list[dict[str, Any]]
) -> None:
    want = sorted(expect(rows, lambda r: {"marketing", "manager"} <= words(r["job_title"])))
    answer = search(test_key, {"job_titles": ["marketing manager"], "limit_by": 2400})
    leads = answer["data"]["leads"]
    assert ids(leads) == want
    assert answer["data"]["results_count"] == len(want) > 100
    assert {"Content Marketing Manager", "Product Marketing Manager"} <= {
        r["job_title"] for r in leads
    }
    assert count(test_key, {"job_titles": ["MARKETING  Manager"]}) == len(want)


def test_title_acronyms_match_both_ways(test_key: httpx.Client) -> None:
    vp = search(test_key, {"job_titles": ["VP Sales"], "limit_by": 2400})["data"]["leads"]
    long = search(test_key, {"job_titles": ["vice president sales"], "limit_by": 2400})
    assert {r["job_title"] for r in vp} >= {"VP of Sales", "Vice President of Sales"}
    assert ids(vp) == ids(long["data"]["leads"])


def test_list_filters_are_any_of(test_key: httpx.Client, rows: list[dict[str, Any]]) -> None:
    managers = count(test_key, {"seniorities": ["manager"]})
    directors = count(test_key, {"seniorities": ["director"]})
    both = count(test_key, {"seniorities": ["manager", "director"]})
    assert (
        both
        == managers + directors
        == len(expect(rows, lambda r: r["seniority"] in ("manager", "director")))
    )
    titles = count(test_key, {"job_titles": ["data scientist", "recruiter"]})
    assert titles == count(test_key, {"job_titles": ["data scientist"]}) + count(
        test_key, {"job_titles": ["recruiter"]}
    )


@pytest.mark.parametrize(
    ("value", "keep"),
    [
        ("Germany", lambda r: r["location_country"] == "Germany"),
        ("San Francisco, CA", lambda r: r["location_city"] == "San Francisco"),
        (
            "San Francisco, California, United States",
            lambda r: r["location_city"] == "San Francisco",
        ),
        ("London", lambda r: r["location_city"] == "London"),
        ("california", lambda r: r["location_state"] == "California"),
        ("NYC", lambda r: r["location_city"] == "New York"),
        ("Washington, DC", lambda r: r["location_state"] == "District of Columbia"),
        ("Washington", lambda r: "Washington" in (r["location_city"], r["location_state"])),
        ("Sao Paulo", lambda r: r["location_city"] == "São Paulo"),
        ("Atlantis", lambda r: False),
    ],
)
def test_locations_match_city_state_or_country(
    test_key: httpx.Client, rows: list[dict[str, Any]], value: str, keep: Any
) -> None:
    assert count(test_key, {"locations": [value]}) == len(expect(rows, keep))


def test_company_locations_are_the_employers_headquarters(
    test_key: httpx.Client, rows: list[dict[str, Any]]
) -> None:
    body = {"company_locations": ["United Kingdom"], "seniorities": ["vp"], "limit_by": 2400}
    want = expect(
        rows, lambda r: r["company_location"].endswith("United Kingdom") and r["seniority"] == "vp"
    )
    assert ids(search(test_key, body)["data"]["leads"]) == sorted(want)


def test_exclusions_subtract(test_key: httpx.Client, rows: list[dict[str, Any]]) -> None:
    body = {
        "seniorities": ["owner", "founder"],
        "exclude_locations": ["United States"],
        "exclude_company_industries": ["Software Development"],
        "exclude_company_headcounts": ["1-10"],
        "limit_by": 2400,
    }
    want = expect(
        rows,
        lambda r: (
            r["seniority"] in ("owner", "founder")
            and r["location_country"] != "United States"
            and r["company_industry"] != "Software Development"
            and r["company_headcount_range"] != "1-10"
        ),
    )
    assert ids(search(test_key, body)["data"]["leads"]) == sorted(want)


def test_vocabulary_filters(test_key: httpx.Client, rows: list[dict[str, Any]]) -> None:
    body = {
        "company_industries": ["Software Development", "Banking"],
        "company_headcounts": ["51-200", "10 000+"],
        "company_types": ["Privately Held", "Public Company"],
    }
    want = expect(
        rows,
        lambda r: (
            r["company_industry"] in ("Software Development", "Banking")
            and r["company_headcount_range"] in ("51-200", "10001+")
            and r["company_type"] in ("Privately Held", "Public Company")
        ),
    )
    assert count(test_key, body) == len(want) > 0


def test_company_anchors_name_link_and_id_agree(
    test_key: httpx.Client, rows: list[dict[str, Any]]
) -> None:
    company = rows[0]
    want = expect(rows, lambda r: r["company_name"] == company["company_name"])
    by_name = search(test_key, {"company_name": company["company_name"].upper(), "limit_by": 500})
    by_link = search(test_key, {"company_link": company["company_url"] + "/", "limit_by": 500})
    by_id = search(test_key, {"company_id": company["linkedin_company_id"], "limit_by": 500})
    for answer in (by_name, by_link, by_id):
        assert ids(answer["data"]["leads"]) == sorted(want)
        assert answer["data"]["results_count"] == len(want)
    nobody = search(test_key, {"company_name": "No Such Company Ltd"})
    assert nobody["data"] == {"leads": [], "results_count": 0}
    assert nobody["meta"]["amount_charged"] == 0


def test_anchored_realtime_search_says_within_limit_when_the_company_fits(
    test_key: httpx.Client, sandbox_population: Population
) -> None:
    c = max(
        range(len(sandbox_population.co_name)),
        key=lambda c: len(sandbox_population.company_rows[c]),
    )
    name, size = sandbox_population.co_name[c], len(sandbox_population.company_rows[c])
    whole = search(test_key, {"company_name": name, "limit_by": size}, "realtime")
    assert whole["data"]["results_count"] == "within limit"
    assert len(whole["data"]["leads"]) == size
    part = search(test_key, {"company_name": name, "limit_by": size - 1}, "realtime")
    assert part["data"]["results_count"] == size
    # Anchored searches are not held to the 2400 paging bounds of filter-only searches.
    assert (
        search(test_key, {"company_name": name, "limit_by": 5000})["data"]["results_count"] == size
    )


def test_order_moves_between_calls_so_offset_pages_overlap(test_key: httpx.Client) -> None:
    # As Generect's: naive offset pages repeat leads; pages by exclude_ids never do.
    body = {"seniorities": ["senior"], "limit_by": 25}
    naive = [
        lead_id(r)
        for offset in (0, 25, 50, 75)
        for r in search(test_key, {**body, "offset_by": offset})["data"]["leads"]
    ]
    assert len(naive) == 100 and len(set(naive)) < 100
    seen: list[str] = []
    for _ in range(4):
        page = search(test_key, {**body, "exclude_ids": seen} if seen else body)
        seen += [lead_id(r) for r in page["data"]["leads"]]
    assert len(seen) == len(set(seen)) == 100
    default = search(test_key, {"seniorities": ["senior"]})["data"]["leads"]
    assert len(default) == 25  # no limit_by: a default page


def test_the_order_of_a_sequence_of_calls_is_repeatable(
    sandbox: Sandbox, test_key: httpx.Client
) -> None:
    body = {"job_titles": ["engineer"], "locations": ["Germany"], "limit_by": 50}
    first = [search(test_key, body) for _ in range(3)]
    assert ids(first[0]["data"]["leads"]) != ids(first[1]["data"]["leads"]) or ids(
        first[1]["data"]["leads"]
    ) != ids(first[2]["data"]["leads"])
    sandbox.reset()  # the call counter starts again: the same calls give the same pages
    assert [search(test_key, body) for _ in range(3)] == first


def test_stable_order_keeps_pages_stable(sandbox_factory: Callable[..., Sandbox]) -> None:
    with connect(sandbox_factory(stable_order=True), TEST) as client:
        body = {"seniorities": ["senior"]}
        first = search(client, {**body, "limit_by": 10})["data"]["leads"]
        second = search(client, {**body, "limit_by": 10, "offset_by": 10})["data"]["leads"]
        both = search(client, {**body, "limit_by": 20})["data"]["leads"]
        assert first + second == both
        assert search(client, {**body, "limit_by": 20})["data"]["leads"] == both


def test_exclude_ids_and_names(test_key: httpx.Client, rows: list[dict[str, Any]]) -> None:
    body: dict[str, Any] = {"seniorities": ["head"], "limit_by": 2400}
    before = search(test_key, body)["data"]
    dropped = [lead_id(r) for r in before["leads"][:2]]
    after = search(test_key, {**body, "exclude_ids": [*dropped, "ACwAAAnot-a-lead"]})["data"]
    assert after["results_count"] == before["results_count"] - 2
    assert not {lead_id(r) for r in after["leads"]} & set(dropped)
    name = before["leads"][5]["full_name"]
    same_name = sum(1 for r in before["leads"] if r["full_name"] == name)
    unnamed = search(test_key, {**body, "exclude_names": [name.lower()]})["data"]
    assert unnamed["results_count"] == before["results_count"] - same_name
    assert name not in {r["full_name"] for r in unnamed["leads"]}


def test_filter_empty_vars_and_skip_truncated_names(
    test_key: httpx.Client, rows: list[dict[str, Any]]
) -> None:
    body = {"seniorities": ["vp"], "limit_by": 2400}
    full = search(test_key, {**body, "filter_empty_vars": ["company_website", "profile_photo"]})
    leads = full["data"]["leads"]
    assert leads and all(r["company_website"] and r["profile_photo"] for r in leads)
    assert full["data"]["results_count"] == len(
        expect(
            rows,
            lambda r: r["seniority"] == "vp" and r["company_website"] and r["profile_photo"],
        )
    )

    def truncated(r: dict[str, Any]) -> bool:
        return any(len(n.rstrip(".").strip()) <= 1 for n in (r["first_name"], r["last_name"]))

    kept = search(test_key, {**body, "skip_truncated_names": True})["data"]
    assert kept["results_count"] == len(
        expect(rows, lambda r: r["seniority"] == "vp" and not truncated(r))
    )
    assert any(truncated(r) for r in search(test_key, body)["data"]["leads"])


def test_realtime_only_filters(
    test_key: httpx.Client, sandbox_population: Population, rows: list[dict[str, Any]]
) -> None:
    ml = search(test_key, {"keywords": ["machine learning"], "limit_by": 200}, "realtime")
    assert ml["data"]["leads"]
    for row in ml["data"]["leads"]:
        assert "Machine Learning" in row["skills"] or {"machine", "learning"} <= words(row["title"])
    sales = search(
        test_key, {"functions": ["Sales"], "years_in_position": [1], "limit_by": 50}, "realtime"
    )
    assert sales["data"]["leads"]
    assert all(
        r["function"] == "Sales" and r["years_in_position"] == 1 for r in sales["data"]["leads"]
    )
    james = search(test_key, {"first_name": ["james"], "changed_jobs": True}, "realtime")
    assert all(r["first_name"] == "James" and r["changed_jobs"] for r in james["data"]["leads"])
    pop = sandbox_population
    company = pop.co_name[max(range(len(pop.co_name)), key=lambda c: len(pop.company_rows[c]))]
    alumni = count(test_key, {"past_company_names": [company.lower()]}, "realtime")
    assert alumni == len(
        expect(rows, lambda r: any(j["company_name"] == company for j in r["jobs"][1:]))
    )


def test_a_database_page_is_the_json_of_its_rows_byte_for_byte(
    sandbox: Sandbox, test_key: httpx.Client
) -> None:
    # Database pages are joined from rows encoded once and kept: the bytes must be exactly
    # what encoding the whole answer would give, on the first page and when served again.
    from starlette.responses import JSONResponse

    from generect_excel.sandbox.search import run_search

    body = {"seniorities": ["manager", "director"], "limit_by": 30, "offset_by": 10}
    for call_number in (1, 2):  # each call's order is seeded by the seed and a call counter
        shuffle = sandbox.config.seed * 1_000_003 + call_number
        result = run_search(sandbox.population, body, "database", shuffle=shuffle)
        expected = JSONResponse(
            {
                "data": {
                    "leads": [sandbox.population.database_row(i) for i in result.row_ids],
                    "results_count": result.total,
                },
                "meta": {"amount_charged": 0.6},
            }
        ).body
        response = test_key.post(C.PATH_DATABASE_SEARCH, json=body)
        assert response.content == expected
        assert response.headers["content-type"] == "application/json"
        assert response.headers["content-length"] == str(len(expected))


# --------------------------------------------------------------------------- prices, balance
def test_database_search_is_billed_per_row_and_debited(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    answer = search(live, {"seniorities": ["manager"], "limit_by": 7})
    assert len(answer["data"]["leads"]) == 7
    assert answer["meta"]["amount_charged"] == 0.14
    assert sandbox.balance(LIVE) == Decimal("99.86")
    _, account = call(live, C.PATH_ACCOUNT)
    assert account["data"]["credits"] == {
        "balance": 99.86,
        "used_this_month": 0.14,
        "monthly_limit": 10000,
    }
    [entry] = sandbox.billable_calls()
    assert entry["rows"] == 7 and entry["amount_charged"] == 0.14 and entry["debited"] == 0.14


def test_realtime_rows_cost_more_and_counts_are_priced_as_documented(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    assert (
        search(live, {"seniorities": ["vp"], "limit_by": 3}, "realtime")["meta"]["amount_charged"]
        == 0.12
    )
    _, free = call(live, C.PATH_DATABASE_COUNT, {"seniorities": ["vp"]})
    assert free["meta"]["amount_charged"] == 0
    _, paid = call(live, C.PATH_REALTIME_COUNT, {"job_titles": ["astronaut"]})
    assert paid["data"]["results_count"] == 0 and paid["meta"]["amount_charged"] == 0.04
    assert sandbox.balance(LIVE) == Decimal("100") - Decimal("0.12") - Decimal("0.04")
    assert [e["path"] for e in sandbox.billable_calls()] == [
        C.PATH_REALTIME_SEARCH,
        C.PATH_REALTIME_COUNT,
    ]
    assert len(sandbox.log_entries()) == 3


def test_no_rows_no_charge(sandbox: Sandbox, live: httpx.Client) -> None:
    answer = search(live, {"job_titles": ["astronaut"]})
    assert answer == {"data": {"leads": [], "results_count": 0}, "meta": {"amount_charged": 0}}
    past_the_end = search(live, {"seniorities": ["intern"], "offset_by": 2399, "limit_by": 1})
    assert past_the_end["meta"]["amount_charged"] == 0
    assert sandbox.balance(LIVE) == Decimal("100")


def test_insufficient_funds_is_402_and_charges_nothing(
    sandbox: Sandbox, live: httpx.Client
) -> None:
    sandbox.set_balance(LIVE, "0.05")
    status, answer = call(
        live, C.PATH_DATABASE_SEARCH, {"seniorities": ["manager"], "limit_by": 10}
    )
    assert (status, answer["detail"]) == (402, "Insufficient funds in the account.")
    assert sandbox.balance(LIVE) == Decimal("0.05")
    assert (
        search(live, {"seniorities": ["manager"], "limit_by": 2})["meta"]["amount_charged"] == 0.04
    )
    assert sandbox.balance(LIVE) == Decimal("0.01")
    status, _ = call(live, C.PATH_REALTIME_COUNT, {"seniorities": ["manager"]})
    assert status == 402
    assert count(live, {"seniorities": ["manager"]}) > 0  # the database count stays free
    assert len(sandbox.billable_calls()) == 1


def test_empty_balance_from_the_start(sandbox_factory: Callable[..., Sandbox]) -> None:
    broke = sandbox_factory(balance=0)
    with connect(broke) as client:
        status, answer = call(
            client, C.PATH_DATABASE_SEARCH, {"seniorities": ["owner"], "limit_by": 1}
        )
        assert status == 402
        _, account = call(client, C.PATH_ACCOUNT)
        assert account["data"]["credits"]["balance"] == 0


def test_test_mode_reports_prices_and_never_debits(
    sandbox: Sandbox, test_key: httpx.Client
) -> None:
    sandbox.set_balance(TEST, 0)
    response = test_key.post(
        C.PATH_DATABASE_SEARCH, json={"seniorities": ["manager"], "limit_by": 10}
    )
    assert response.headers["X-Generect-Mode"] == "test"
    assert assert_conforms(response)["meta"]["amount_charged"] == 0.2
    _, account = call(test_key, C.PATH_ACCOUNT)
    assert (
        account["data"]["credits"]["balance"] == 0
        and account["data"]["credits"]["used_this_month"] == 0
    )
    [entry] = sandbox.billable_calls()  # billable, reported, not debited
    assert entry["test_mode"] is True and entry["debited"] == 0
    with connect(sandbox, LIVE) as live:
        assert "X-Generect-Mode" not in live.get(C.PATH_ACCOUNT).headers


# --------------------------------------------------------------------------- auth and paths
@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        (LIVE, "Authentication credentials were not provided."),  # raw key, no "Token "
        (f"Bearer {LIVE}", "Authentication credentials were not provided."),
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token invalid-key", "Invalid token."),
    ],
)
def test_auth_failures_are_401(sandbox: Sandbox, header: str | None, detail: str) -> None:
    headers = {"Authorization": header} if header is not None else {}
    with conforming_client(sandbox.url, headers=headers) as client:
        for path in (C.PATH_DATABASE_SEARCH, C.PATH_ACCOUNT):
            status, answer = call(client, path, {"seniorities": ["vp"]})
            assert (status, answer["detail"]) == (401, detail)
    assert sandbox.billable_calls() == []


def test_paths_need_their_trailing_slash_and_method(live: httpx.Client) -> None:
    for response in (
        live.post(C.PATH_DATABASE_SEARCH.rstrip("/"), json={"seniorities": ["vp"]}),
        live.post("/api/v1/search/database/people/", json={}),
    ):
        assert response.status_code == 404
        assert assert_conforms(response)["detail"] == "Not found."
    response = live.get(C.PATH_DATABASE_SEARCH)
    assert response.status_code == 405
    assert assert_conforms(response)["detail"] == 'Method "GET" not allowed.'
    assert live.post(C.PATH_ACCOUNT).status_code == 405


# --------------------------------------------------------------------------- validation
REALTIME_ONLY = "{} is not supported in database mode for leads. Use realtime endpoint."
ONE_FILTER = {"non_field_errors": ["At least one filter is required."]}


@pytest.mark.parametrize(
    ("mode", "body", "detail"),
    [
        ("database", {"keywords": ["ml"]}, REALTIME_ONLY.format("keywords")),
        ("database", {"seniorities": ["vp"], "schools": [1]}, REALTIME_ONLY.format("schools")),
        ("database", {"seniorities": ["vp"], "foo": 1}, {"foo": ["Unknown field."]}),
        ("realtime", {"seniorities": ["vp"], "jobtitles": []}, {"jobtitles": ["Unknown field."]}),
        (
            "database",
            {"company_headcounts": ["999"]},
            {"company_headcounts": ["Object with name=999 does not exist."]},
        ),
        (
            "database",
            {"company_headcounts": ["10001+"]},
            {"company_headcounts": ["Object with name=10001+ does not exist."]},
        ),
        (
            "database",
            {"seniorities": ["CXO", "vp"]},
            {"seniorities": ["Object with name=CXO does not exist."]},
        ),
        (
            "database",
            {"company_industries": ["Software"]},
            {"company_industries": ["Object with name=Software does not exist."]},
        ),
        (
            "database",
            {"company_types": ["privately held"]},
            {"company_types": ["Object with name=privately held does not exist."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "filter_empty_vars": ["email"]},
            {"filter_empty_vars": ["Object with name=email does not exist."]},
        ),
        (
            "database",
            {"company_name": "Acme", "company_id": 5},
            {
                "non_field_errors": [
                    "Only one of company_name, company_link, company_id or "
                    "find_by_emails may be given."
                ]
            },
        ),
        ("database", {}, ONE_FILTER),
        ("database", {"limit_by": 10, "offset_by": 5}, ONE_FILTER),
        ("database", {"exclude_names": ["Ann Lee"]}, ONE_FILTER),
        ("realtime", {"changed_jobs": False}, ONE_FILTER),
        (
            "database",
            {"seniorities": ["vp"], "limit_by": 0},
            {"limit_by": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "limit_by": 2401},
            {"limit_by": ["Ensure this value is less than or equal to 2400."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "offset_by": 2400},
            {"offset_by": ["Ensure this value is less than or equal to 2399."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "offset_by": -1},
            {"offset_by": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "limit_by": 1200, "offset_by": 1201},
            {
                "non_field_errors": [
                    "limit_by + offset_by must not exceed 2400 for searches without a company."
                ]
            },
        ),
        (
            "database",
            {"seniorities": ["vp"], "limit_by": 10.0},
            {"limit_by": ["A valid integer is required."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "limit_by": "10"},
            {"limit_by": ["A valid integer is required."]},
        ),
        (
            "database",
            {"job_titles": "CEO"},
            {"job_titles": ['Expected a list of items but got type "str".']},
        ),
        (
            "database",
            {"job_titles": ["CEO", 7, " "]},
            {"job_titles": ["Not a valid string.", "This field may not be blank."]},
        ),
        (
            "database",
            {"seniorities": ["vp"], "skip_truncated_names": "yes"},
            {"skip_truncated_names": ["Must be a valid boolean."]},
        ),
        ("database", {"company_name": None}, {"company_name": ["This field may not be null."]}),
        (
            "realtime",
            {"years_in_position": [6]},
            {"years_in_position": ["Ensure this value is less than or equal to 5."]},
        ),
        ("realtime", {"schools": ["MIT"]}, {"schools": ["A valid integer is required."]}),
        (
            "realtime",
            {"find_by_emails": ["a@one.example", "b@two.example"]},
            {"non_field_errors": ["All find_by_emails addresses must share one domain."]},
        ),
        (
            "database",
            [{"seniorities": ["vp"]}],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
    ],
)
def test_validation_answers_like_generect(
    sandbox: Sandbox, live: httpx.Client, mode: str, body: Any, detail: Any
) -> None:
    path = C.PATH_REALTIME_SEARCH if mode == "realtime" else C.PATH_DATABASE_SEARCH
    for endpoint in (path, path + "count/"):
        status, answer = call(live, endpoint, body)
        assert (status, answer["detail"]) == (400, detail)
    assert sandbox.balance(LIVE) == Decimal("100") and sandbox.billable_calls() == []


def test_malformed_json_body_is_400(live: httpx.Client) -> None:
    for content in (b"{bad", b""):
        response = live.post(C.PATH_DATABASE_SEARCH, content=content)
        assert response.status_code == 400
        assert assert_conforms(response)["detail"].startswith("JSON parse error - ")


def test_valid_edge_bodies_are_accepted(test_key: httpx.Client) -> None:
    search(test_key, {"seniorities": ["vp"], "limit_by": 2400})
    search(test_key, {"seniorities": ["vp"], "limit_by": 1, "offset_by": 2399})
    search(test_key, {"seniorities": ["vp"], "without_company": True, "strict": ["locations"]})
    search(test_key, {"find_by_emails": ["ann@x.example", "bo@X.example"]}, "realtime")
    search(test_key, {"schools": [1, 2], "num_of_connections": {"min": 500}}, "realtime")


# Bodies a buggy client could send: known and unknown fields, valid vocabulary and junk, every
# JSON type, nested anywhere.
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 60)
    | st.sampled_from([0, 1, 2399, 2400, 2401, 10**12])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_VOCAB = [
    v
    for name in ("seniorities", "company_headcounts", "company_types")
    for v in get_vocabulary(name).values
] + ["Software Development", "United States", "marketing manager", "CXO", "10001+"]
_FIELD = st.sampled_from(sorted({*DATABASE_FIELDS, *REALTIME_ONLY_FIELDS})) | st.text(max_size=10)
_VALUE = _JSON | st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=3)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(_FIELD, _VALUE, max_size=5) | _JSON,
    path=st.sampled_from(
        [
            C.PATH_DATABASE_SEARCH,
            C.PATH_DATABASE_COUNT,
            C.PATH_REALTIME_SEARCH,
            C.PATH_REALTIME_COUNT,
        ]
    ),
)
def test_any_body_gets_200_or_400_within_the_spec(
    sandbox: Sandbox, test_key: httpx.Client, body: Any, path: str
) -> None:
    status, answer = call(test_key, path, body)  # call() checks the answer against the spec
    assert status in (200, 400), answer


def test_odd_json_is_answered_and_logged_safely(sandbox: Sandbox, test_key: httpx.Client) -> None:
    for content in (b'{"seniorities": ["vp"], "limit_by": NaN}', b'{"limit_by": Infinity}'):
        response = test_key.post(C.PATH_DATABASE_SEARCH, content=content)
        assert response.status_code == 400
        assert response.json()["detail"].startswith("JSON parse error - ")
    # A lone surrogate cannot be UTF-8: it is echoed escaped, and the log stays one line each.
    response = test_key.post(C.PATH_DATABASE_SEARCH, content=b'{"seniorities": ["\\ud800\\u2028"]}')
    assert response.json()["detail"] == {
        "seniorities": ["Object with name=\ud800\u2028 does not exist."]
    }
    assert sandbox.config.log_path is not None
    lines = sandbox.config.log_path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["body"] == {"seniorities": ["\ud800\u2028"]}


# --------------------------------------------------------------------------- hostile rows
def test_hostile_rows_reach_the_client_intact(
    test_key: httpx.Client, sandbox_population: Population
) -> None:
    pop = sandbox_population
    huge = next(i for i, kind in pop.hostile.items() if kind == "headline_huge")
    formula = next(i for i, kind in pop.hostile.items() if kind == "title_hyperlink")
    for i in (huge, formula):
        expected = pop.database_row(i)
        company = pop.co_name[pop.col_company[i]]
        leads = search(test_key, {"company_name": company, "limit_by": 1000})["data"]["leads"]
        assert expected in leads
    leads = search(test_key, {"job_titles": ['=HYPERLINK("http://x","y")'], "limit_by": 2400})
    assert {r["job_title"] for r in leads["data"]["leads"]} == {'=HYPERLINK("http://x","y")'}


def test_clean_sandbox_serves_no_hostile_text(sandbox_factory: Callable[..., Sandbox]) -> None:
    clean = sandbox_factory(leads=3000, clean=True)
    with connect(clean, TEST) as client:
        everyone = list(clean.population.seniorities)
        leads = search(client, {"seniorities": everyone, "limit_by": 2400})["data"]["leads"]
        text = json.dumps(leads, ensure_ascii=False)
    assert len(leads) == 2400
    assert not re.search(r'":"[=+@-]', text) and "\\t" not in text and "\\n" not in text
    assert max(len(s) for r in leads for s in r.values() if isinstance(s, str)) < 1000


# --------------------------------------------------------------------------- server, log
def test_only_127_0_0_1(sandbox: Sandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    for host in ("0.0.0.0", "localhost", "::", "192.168.1.10"):
        with pytest.raises(SettingsError, match="only listens on 127.0.0.1"):
            SandboxConfig(host=host)


def test_a_busy_port_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(SettingsError, match=f"cannot listen on 127.0.0.1:{sandbox.port}"):
        Sandbox(SandboxConfig(port=sandbox.port, leads=100)).start()


def test_log_file_has_every_call_and_never_the_key(sandbox: Sandbox, live: httpx.Client) -> None:
    search(live, {"seniorities": ["director"], "limit_by": 2})
    call(live, C.PATH_DATABASE_SEARCH, {"seniorities": ["nope"]})
    assert sandbox.config.log_path is not None
    text = sandbox.config.log_path.read_text(encoding="utf-8")
    assert LIVE not in text and TEST not in text
    lines = [json.loads(line) for line in text.splitlines()]
    ok, bad = lines[-2:]
    assert ok["key"] == bad["key"] == key_fingerprint(LIVE)
    assert ok["body"] == {"seniorities": ["director"], "limit_by": 2}
    assert (ok["status"], ok["rows"], ok["amount_charged"], ok["test_mode"], ok["fault"]) == (
        200,
        2,
        0.04,
        False,
        None,
    )
    assert bad["status"] == 400 and bad["amount_charged"] is None
    for field in ("time", "method", "path", "results_count", "debited", "duration_ms"):
        assert field in ok
    assert sandbox.log_entries()[-2:] == [ok, bad]


def test_reset_clears_log_balances_and_faults(sandbox: Sandbox, live: httpx.Client) -> None:
    search(live, {"seniorities": ["director"], "limit_by": 5})
    sandbox.queue_faults(["rate_limited"])
    sandbox.reset()
    assert sandbox.log_entries() == [] and sandbox.pending_faults() == []
    assert sandbox.balance(LIVE) == Decimal("100")
    assert (
        search(live, {"seniorities": ["director"], "limit_by": 1})["meta"]["amount_charged"] == 0.02
    )


# -- the response observer (every answer of the suite is checked against the spec with it) ----


def test_the_observer_sees_every_response_as_sent(sandbox_population: Population) -> None:
    seen: list[tuple[str, str, int, str, bytes, str | None]] = []

    def observe(
        method: str, path: str, status: int, headers: Any, body: bytes, fault: str | None = None
    ) -> None:
        seen.append((method, path, status, headers.get("content-type", ""), body, fault))

    config = SandboxConfig(seed=7, leads=20_000, realtime_latency=0)
    auth = {"Authorization": f"Token {LIVE}"}
    with (
        Sandbox(config, population=sandbox_population, observer=observe) as sb,
        httpx.Client(base_url=sb.url, headers=auth) as client,
    ):
        found = client.post(C.PATH_DATABASE_SEARCH, json={"limit_by": 2, "job_titles": ["CEO"]})
        missing = client.post("/api/v1/nowhere/")
        sb.queue_faults(["drop"])
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(C.PATH_DATABASE_SEARCH, json={"limit_by": 2})
        sb.queue_faults(["latency=0"])
        account = client.get(C.PATH_ACCOUNT)
        admin = client.get("/_sandbox/log")
    search, nowhere, dropped, me, log = seen
    assert search == (
        "POST",
        C.PATH_DATABASE_SEARCH,
        200,
        "application/json",
        found.content,
        None,
    )
    assert nowhere[1:] == ("/api/v1/nowhere/", 404, "application/json", missing.content, None)
    assert dropped[1:3] == (C.PATH_DATABASE_SEARCH, 200) and dropped[5] == "drop"
    assert dropped[4].startswith(b'{"data"')  # as far as it went before the cut ...
    with pytest.raises(ValueError):
        json.loads(dropped[4])  # ... which is not the whole answer
    assert me[1:] == (C.PATH_ACCOUNT, 200, "application/json", account.content, "latency=0")
    assert log[:3] == ("GET", "/_sandbox/log", 200) and log[4] == admin.content


def test_the_observer_is_off_by_default(sandbox_population: Population) -> None:
    from starlette.applications import Starlette

    from generect_excel.sandbox.accounts import Accounts
    from generect_excel.sandbox.app import SandboxApp
    from generect_excel.sandbox.faults import FaultQueue
    from generect_excel.sandbox.requestlog import RequestLog

    config = SandboxConfig(seed=7, leads=20_000)
    parts = {
        "log": RequestLog(None),
        "accounts": Accounts(config.balance, config.monthly_limit),
        "faults": FaultQueue(),
    }
    app = SandboxApp(config, sandbox_population, **parts)
    assert app.observer is None
    assert type(app.asgi) is Starlette  # the plain application: nothing in any request's way
    observed = SandboxApp(config, sandbox_population, observer=print, **parts)
    assert type(observed.asgi) is not Starlette


def test_the_spec_watch_keeps_violations_and_skips_what_the_spec_does_not_describe() -> None:
    from conftest import SpecWatch, fail_on_violations

    watch = SpecWatch()
    headers = {"content-type": "application/json"}
    good = json.dumps({"data": {"results_count": 3}, "meta": {"amount_charged": 0}}).encode()
    watch("POST", C.PATH_DATABASE_COUNT, 200, headers, good)
    watch("POST", C.PATH_DATABASE_COUNT, 200, headers, b'{"data": {"results_count": "x"}}')
    watch("POST", C.PATH_DATABASE_SEARCH, 429, headers, b'{"status": "error"}')
    watch("GET", "/_sandbox/log", 200, {"content-type": "text/plain"}, b"admin: not Generect's")
    for fault in ("malformed_json", "html_error", "drop", "hang"):
        watch("POST", C.PATH_DATABASE_SEARCH, 200, headers, b'{"data": {', fault=fault)
    watch("POST", C.PATH_DATABASE_SEARCH, 200, headers, b"{", fault="latency=1")
    assert watch.checked == 1
    with pytest.raises(pytest.fail.Exception) as info:
        fail_on_violations(watch)
    text = str(info.value)
    assert "3 answer(s) that Generect's spec rejects" in text
    assert f"POST {C.PATH_DATABASE_COUNT} -> 200" in text
    assert f"POST {C.PATH_DATABASE_SEARCH} -> 429" in text
    fail_on_violations(watch)  # reported once: nothing left
