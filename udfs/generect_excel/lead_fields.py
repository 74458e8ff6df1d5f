"""The catalogue of lead fields: every field name a lead row is known to carry (pure data).

``=GENERECT_SEARCH(..., fields)`` and ``generect-excel search --fields`` accept a name from
this catalogue, one of the default columns (:data:`generect_excel.table.COLUMN_SOURCES`, whose
fallback paths count as catalogued too), or ``raw:NAME`` for any other field. The check runs
before anything is bought (:func:`generect_excel.table.check_fields`): a misspelt field must
cost nothing, and a name that passes it never fails after the purchase (a field the rows happen
not to carry is an empty column).

Where the names come from, recorded per row of :data:`LEAD_FIELDS`:

- ``spec``: Generect's published OpenAPI spec: the full lead profile of
  ``/api/linkedin/leads/by_link/`` (58 fields, with the keys of its ``jobs`` and
  ``educations`` items and their dates), what ``/api/linkedin/leads/by_icp/`` adds
  (``gender``, ``linkedin_lead_persona``, the keys of ``languages``), and the lead rows of the
  search and preview examples (``lead_id``, ``id``, ``title``, ``seniority``,
  ``headcount_range``). ``tests/test_lead_fields.py`` reads the spec and fails when it names
  a lead field this table lacks.
- ``facts``: what real rows carry beyond the spec (``FACTS.md``, "Request and response"):
  database rows' ``linkedin_company_id``, ``is_current``, ``updated_at``; realtime rows'
  ``lead_company_name`` and nested ``company`` object; ``started_at_position``, a field
  ``filter_empty_vars`` names.

Real rows carry about 80 fields and Generect adds more without notice: ``raw:NAME`` reaches
them (``raw:some_new_field``, ``raw:company.revenue``). Nested names are dot paths; a number in
a path picks one item of a list (``jobs.0.job_title``) and is ignored by the catalogue check.
"""

from __future__ import annotations

__all__ = ["LEAD_FIELDS", "LEAD_FIELD_NAMES"]

# (name, source): the one table of lead fields. Keep names as the API spells them.
LEAD_FIELDS: tuple[tuple[str, str], ...] = (
    # -- the spec's full lead profile (/api/linkedin/leads/by_link/), top level
    ("certifications", "spec"),
    ("company_city", "spec"),
    ("company_country", "spec"),
    ("company_description", "spec"),
    ("company_headcount_range", "spec"),
    ("company_id", "spec"),
    ("company_image", "spec"),
    ("company_industry", "spec"),
    ("company_location", "spec"),
    ("company_name", "spec"),
    ("company_state", "spec"),
    ("company_url", "spec"),
    ("company_website", "spec"),
    ("educations", "spec"),
    ("first_name", "spec"),
    ("full_name", "spec"),
    ("headline", "spec"),
    ("industry", "spec"),
    ("input_url", "spec"),
    ("is_full_data", "spec"),
    ("is_job_seeker", "spec"),
    ("is_openlink", "spec"),
    ("is_premium", "spec"),
    ("is_retired", "spec"),
    ("job_description", "spec"),
    ("job_ended_on", "spec"),
    ("job_location", "spec"),
    ("job_location_city", "spec"),
    ("job_location_country", "spec"),
    ("job_location_county", "spec"),
    ("job_location_state", "spec"),
    ("job_started_on", "spec"),
    ("job_still_working", "spec"),
    ("job_title", "spec"),
    ("jobs", "spec"),
    ("languages", "spec"),
    ("last_name", "spec"),
    ("linkedin_id", "spec"),
    ("linkedin_sales_link", "spec"),
    ("linkedin_url", "spec"),
    ("location", "spec"),
    ("location_city", "spec"),
    ("location_country", "spec"),
    ("location_county", "spec"),
    ("location_state", "spec"),
    ("middle_name", "spec"),
    ("num_of_connections", "spec"),
    ("private_website", "spec"),
    ("profile_photo", "spec"),
    ("raw_company_name", "spec"),
    ("raw_headline", "spec"),
    ("raw_job_title", "spec"),
    ("sales_id", "spec"),
    ("skills", "spec"),
    ("source", "spec"),
    ("summary", "spec"),
    ("twitter_link", "spec"),
    ("unformatted_full_name", "spec"),
    # -- the spec's full lead profile: the keys of each item of ``educations``
    ("educations.degree", "spec"),
    ("educations.ended_on", "spec"),
    ("educations.ended_on.month", "spec"),
    ("educations.ended_on.year", "spec"),
    ("educations.fields_of_study", "spec"),
    ("educations.started_on", "spec"),
    ("educations.started_on.month", "spec"),
    ("educations.started_on.year", "spec"),
    ("educations.university_id", "spec"),
    ("educations.university_name", "spec"),
    # -- the spec's full lead profile: the keys of each item of ``jobs``
    ("jobs.company_city", "spec"),
    ("jobs.company_country", "spec"),
    ("jobs.company_description", "spec"),
    ("jobs.company_headcount_range", "spec"),
    ("jobs.company_id", "spec"),
    ("jobs.company_image", "spec"),
    ("jobs.company_industry", "spec"),
    ("jobs.company_location", "spec"),
    ("jobs.company_name", "spec"),
    ("jobs.company_state", "spec"),
    ("jobs.company_url", "spec"),
    ("jobs.company_website", "spec"),
    ("jobs.job_description", "spec"),
    ("jobs.job_ended_on", "spec"),
    ("jobs.job_location", "spec"),
    ("jobs.job_location_city", "spec"),
    ("jobs.job_location_country", "spec"),
    ("jobs.job_location_county", "spec"),
    ("jobs.job_location_state", "spec"),
    ("jobs.job_started_on", "spec"),
    ("jobs.job_still_working", "spec"),
    ("jobs.job_title", "spec"),
    ("jobs.raw_company_name", "spec"),
    ("jobs.raw_job_title", "spec"),
    # -- the spec's lead profiles of /api/linkedin/leads/by_icp/: what by_link lacks
    ("gender", "spec"),
    ("linkedin_lead_persona", "spec"),
    ("languages.name", "spec"),
    ("languages.proficiency", "spec"),
    # -- the spec's search and preview examples
    ("lead_id", "spec"),
    ("id", "spec"),
    ("title", "spec"),
    ("seniority", "spec"),
    ("headcount_range", "spec"),
    # -- FACTS.md: real database rows
    ("linkedin_company_id", "facts"),
    ("is_current", "facts"),
    ("updated_at", "facts"),
    ("started_at_position", "facts"),
    # -- FACTS.md: real realtime rows (other names, a nested company object)
    ("lead_company_name", "facts"),
    ("company", "facts"),
    ("company.name", "facts"),
    ("company.domain", "facts"),
    ("company.linkedin_url", "facts"),
    ("company.industry", "facts"),
    ("company.headcount", "facts"),
)

LEAD_FIELD_NAMES: tuple[str, ...] = tuple(name for name, _ in LEAD_FIELDS)
