"""Issue 13 on umami's real migration history (tests/data/umami/README.md): incidents made by the real
Prisma CLI in split mode on umami's own migrations, each made to fail by rows put there first.

For each: the diagnosis is exact statement by statement, the cause and its rows are named; after the
data fix a forward recovery leaves `prisma migrate status` with no failed migration, the rest of the
history deploys with the real Prisma CLI and the schema equals a clean deploy of the whole history;
on a second copy of the incident, rollback leaves no failed migration and exactly the schema of the
migrations before it."""

from __future__ import annotations

from uuid import UUID

import pytest

pytest.register_assert_rewrite("tests.recover_real_support")  # before it is imported: a plugin below

from tests.recover_real_support import (
    RECOVER,
    History,
    TemplateDatabases,
    assert_no_failed_migration,
    effects,
    incident_copies,
    listing_query,
    plan_report,
    rest_deploys,
    rolls_back,
)
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]  # CI runs slow tests too (make test: plain pytest)

UMAMI = History("umami")
WEBSITE = "6f1a4bd2-0000-4000-8000-000000000001"
SESSION = "6f1a4bd2-0000-4000-8000-000000000002"
USER = "6f1a4bd2-0000-4000-8000-000000000003"
pytest_plugins = ["tests.recover_real_support"]  # its fixtures: databases, clean, clean_schema
HISTORY = UMAMI  # for the shared `clean` fixture


# --- 05_add_visit_id: ADD COLUMN, an UPDATE fills it, SET NOT NULL — an event with no created_at stays NULL
VISIT = "05_add_visit_id"
MISSED = "6f1a4bd2-0000-4000-8000-0000000000ee"
VISIT_ROWS = f"""
INSERT INTO "website" (website_id, name, user_id) VALUES ('{WEBSITE}', 'shop', '{USER}');
INSERT INTO "session" (session_id, website_id) VALUES ('{SESSION}', '{WEBSITE}');
INSERT INTO "website_event" (event_id, website_id, session_id, created_at, url_path) VALUES
  (gen_random_uuid(), '{WEBSITE}', '{SESSION}', '2024-01-01 10:00', '/'),
  (gen_random_uuid(), '{WEBSITE}', '{SESSION}', '2024-01-01 10:30', '/cart'),
  ('{MISSED}', '{WEBSITE}', '{SESSION}', NULL, '/lost');
"""


@pytest.fixture(scope="module")
def before_visit(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("umami-visit"), UMAMI, VISIT, VISIT_ROWS)


def test_set_not_null_after_the_fill_misses_a_row(databases, before_visit, clean_schema, tmp_path, prisma_cli) -> None:
    scenario, rollback = incident_copies(databases, UMAMI, before_visit, tmp_path, prisma_cli, VISIT)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "done", "not_done", "not_done", "not_done"], diagnosis["statements"]
    assert (diagnosis["failing_statement"], diagnosis["failing_source"]) == (3, "ledger logs")
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("nulls", True, 1, 3), cause
    rows = scenario.sql(listing_query(report["next_step"]))
    assert [str(r[0]) for r in rows] == [MISSED], rows  # the event the fill missed
    assert report["exit_code"] == 1

    scenario.sql('UPDATE "website_event" SET visit_id = gen_random_uuid() WHERE visit_id IS NULL')  # the data fix
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, VISIT, applied=True)
    rest_deploys(UMAMI, scenario, VISIT, clean_schema)

    assert "undone by a drop: statement 2" in rolls_back(databases, rollback, VISIT, before_visit)


# --- 14_add_link_and_pixel: statement 2 narrows revenue.currency to VARCHAR(10)
LINKS = "14_add_link_and_pixel"
LONG = "6f1a4bd2-0000-4000-8000-0000000000cc"
LINKS_ROWS = f"""
INSERT INTO "revenue" (revenue_id, website_id, session_id, event_id, event_name, currency, revenue) VALUES
  (gen_random_uuid(), '{WEBSITE}', '{SESSION}', gen_random_uuid(), 'purchase', 'USD', 10),
  ('{LONG}', '{WEBSITE}', '{SESSION}', gen_random_uuid(), 'purchase', 'bitcoin-satoshi', 1);
"""


@pytest.fixture(scope="module")
def before_links(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("umami-links"), UMAMI, LINKS, LINKS_ROWS)


def test_type_change_to_a_shorter_varchar_on_a_long_value(databases, before_links, clean_schema, tmp_path,
                                                          prisma_cli) -> None:
    scenario, rollback = incident_copies(databases, UMAMI, before_links, tmp_path, prisma_cli, LINKS)
    count = len(UMAMI.statements(LINKS))

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done"] + ["not_done"] * (count - 1), diagnosis["statements"]
    assert diagnosis["failing_statement"] == 2
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("uncastable", True, 1, 2), cause
    assert "currency" in cause["detail"], cause
    rows = scenario.sql(listing_query(report["next_step"]))
    assert [str(r[0]) for r in rows] == [LONG], rows  # the value too long for VARCHAR(10)
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "revenue" SET currency = 'BTC' WHERE currency = 'bitcoin-satoshi'""")
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, LINKS, applied=True)
    rest_deploys(UMAMI, scenario, LINKS, clean_schema)

    rolls_back(databases, rollback, LINKS, before_links)


# --- CREATE UNIQUE INDEX CONCURRENTLY (non-transactional): no umami migration builds an index
# concurrently, so this one is ours, written in umami's style and slotted into its history between
# 18_add_performance and 19_add_session_replay; two sessions share a distinct_id, so the second build
# fails and leaves the INVALID index "session_website_id_distinct_id_key"
CONCURRENT = "18b_session_distinct_id_unique"
CONCURRENT_SQL = """\
-- CreateIndex
CREATE INDEX CONCURRENTLY "website_event_website_id_hostname_idx" ON "website_event"("website_id", "hostname");

-- CreateIndex
CREATE UNIQUE INDEX CONCURRENTLY "session_website_id_distinct_id_key" ON "session"("website_id", "distinct_id");
"""
CONCURRENT_ROWS = f"""
INSERT INTO "session" (session_id, website_id, distinct_id) VALUES
  ('{SESSION}', '{WEBSITE}', 'visitor-1'), (gen_random_uuid(), '{WEBSITE}', 'visitor-1'),
  (gen_random_uuid(), '{WEBSITE}', 'visitor-2');
"""


def test_unique_index_built_concurrently_leaves_an_invalid_index(databases, clean, tmp_path_factory, tmp_path,
                                                                 prisma_cli) -> None:
    template = databases.build(tmp_path_factory.mktemp("umami-concurrent"), UMAMI, "19_add_session_replay",
                               CONCURRENT_ROWS)
    scenario = Scenario(tmp_path / "forward", databases.copy(template), prisma_cli)
    UMAMI.copy(scenario.migrations_dir, UMAMI.before("19_add_session_replay"))
    scenario.add(CONCURRENT, CONCURRENT_SQL)
    assert scenario.deploy(split=True).returncode != 0
    invalid = """SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"""
    assert scenario.sql(invalid) == [("session_website_id_distinct_id_key",)]
    rollback = Scenario(tmp_path / "rollback", databases.copy(scenario.db_url.rsplit("/", 1)[1]), prisma_cli)
    UMAMI.copy(rollback.migrations_dir, UMAMI.before("19_add_session_replay"))
    rollback.add(CONCURRENT, CONCURRENT_SQL)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "partly_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 2
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("duplicates", True, 2, 2), cause
    assert scenario.sql(listing_query(report["next_step"])) == [(UUID(WEBSITE), "visitor-1", 2)]
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "session" SET distinct_id = 'visitor-1b' WHERE distinct_id = 'visitor-1'
                    AND session_id <> %s""", (SESSION,))
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert scenario.sql(invalid) == []  # the INVALID leftover dropped and the index built again
    assert_no_failed_migration(scenario, CONCURRENT, applied=True)
    expected = databases.clean_deploy_with(clean, CONCURRENT_SQL)  # the clean deploy, then ours
    rest_deploys(UMAMI, scenario, CONCURRENT, expected)

    rolls_back(databases, rollback, CONCURRENT, template)
    assert rollback.sql(invalid) == []
