"""The seed's incident, reproduced for real: a Prisma project whose
``20250101000000_enhance_payment_tracking`` migration dies halfway on production-like data.

The schema is what Prisma generates for a small billing app. Three payments reference customers
that were deleted by hand years ago (no foreign key existed then), so the migration's last
statement, ``ADD CONSTRAINT ... FOREIGN KEY``, fails with SQLSTATE 23503 after its columns and
index were already created — the statements run one by one, as a migration script without a
transaction does, so the partial state is real and the ledger row is Prisma's failed state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from migration_guard.tasks.db import connect
from migration_guard.tasks.ledgers.prisma import PrismaLedger
from migration_guard.tasks.models import Migration
from migration_guard.tasks.sql.statements import split_statements

INIT = "20241201000000_init"
INCIDENT = "20250101000000_enhance_payment_tracking"
FOLLOW_UP = "20250115000000_add_payment_reminders"

INIT_SQL = """\
-- CreateTable
CREATE TABLE "Customer" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Customer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Payment" (
    "id" SERIAL NOT NULL,
    "customerId" INTEGER NOT NULL,
    "amount" DECIMAL(10,2) NOT NULL,
    "dueDate" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Payment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LateFeeRun" (
    "id" SERIAL NOT NULL,
    "processedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paymentsCharged" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "LateFeeRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Customer_email_key" ON "Customer"("email");
"""

INCIDENT_SQL = """\
-- AlterTable
ALTER TABLE "Payment" ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'PENDING',
ADD COLUMN     "paidAt" TIMESTAMP(3),
ADD COLUMN     "lateFeeAmount" DECIMAL(10,2) NOT NULL DEFAULT 0,
ADD COLUMN     "lateFeeAppliedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "Payment_status_dueDate_idx" ON "Payment"("status", "dueDate");

-- AddForeignKey
ALTER TABLE "Payment" ADD CONSTRAINT "Payment_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"""

FOLLOW_UP_SQL = """\
-- CreateTable
CREATE TABLE "PaymentReminder" (
    "id" SERIAL NOT NULL,
    "paymentId" INTEGER NOT NULL,
    "sentAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PaymentReminder_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PaymentReminder_paymentId_idx" ON "PaymentReminder"("paymentId");

-- AddForeignKey
ALTER TABLE "PaymentReminder" ADD CONSTRAINT "PaymentReminder_paymentId_fkey" FOREIGN KEY ("paymentId") REFERENCES "Payment"("id") ON DELETE CASCADE ON UPDATE CASCADE;
"""

SCHEMA_PRISMA = """\
// The demo's billing app (what `prisma migrate dev` turned into the migrations beside this file).
datasource db {
  provider = "postgresql"
}

model Customer {
  id        Int       @id @default(autoincrement())
  email     String    @unique
  name      String
  createdAt DateTime  @default(now())
  payments  Payment[]
}

model Payment {
  id               Int               @id @default(autoincrement())
  customerId       Int
  customer         Customer          @relation(fields: [customerId], references: [id])
  amount           Decimal           @db.Decimal(10, 2)
  dueDate          DateTime
  createdAt        DateTime          @default(now())
  status           String            @default("PENDING")
  paidAt           DateTime?
  lateFeeAmount    Decimal           @default(0) @db.Decimal(10, 2)
  lateFeeAppliedAt DateTime?
  reminders        PaymentReminder[]

  @@index([status, dueDate])
}

model PaymentReminder {
  id        Int      @id @default(autoincrement())
  paymentId Int
  payment   Payment  @relation(fields: [paymentId], references: [id], onDelete: Cascade)
  sentAt    DateTime @default(now())

  @@index([paymentId])
}

model LateFeeRun {
  id              Int      @id @default(autoincrement())
  processedAt     DateTime @default(now())
  paymentsCharged Int      @default(0)
}
"""

CUSTOMERS = 500
PAYMENTS = 5000
ORPHAN_CUSTOMER_IDS = (9001, 9002, 9003)


@dataclass(frozen=True)
class DemoProject:
    """The demo's Prisma project on disk."""

    root: Path

    @property
    def migrations_dir(self) -> Path:
        return self.root / "prisma" / "migrations"

    def ledger(self) -> PrismaLedger:
        return PrismaLedger(self.migrations_dir, "public")

    def migration(self, name: str) -> Migration:
        """One migration of the project, read the way the ledger reads it."""
        return next(m for m in self.ledger().read_migrations() if m.name == name)

    def add_follow_up(self) -> Path:
        """Write the developer's next migration (PaymentReminder); return its migration.sql."""
        return _write_migration(self.migrations_dir, FOLLOW_UP, FOLLOW_UP_SQL)


@dataclass(frozen=True)
class IncidentState:
    """What the failed migration left behind, observed in the catalog (not assumed)."""

    sqlstate: str
    error: str
    columns_added: tuple[str, ...]
    index_created: bool
    foreign_key_created: bool
    orphan_payments: int


def build_project(root: Path) -> DemoProject:
    """Write ``root/prisma/{schema.prisma, migrations/...}`` with the init and incident migrations.

    Anything left in ``root/prisma`` by an earlier demo run is replaced.
    """
    project = DemoProject(root)
    prisma = root / "prisma"
    if project.migrations_dir.exists():
        for folder in project.migrations_dir.iterdir():
            if folder.is_dir():
                for file in folder.iterdir():
                    file.unlink()
                folder.rmdir()
    project.migrations_dir.mkdir(parents=True, exist_ok=True)
    (prisma / "schema.prisma").write_text(SCHEMA_PRISMA)
    (project.migrations_dir / "migration_lock.toml").write_text(
        '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\n'
        'provider = "postgresql"\n'
    )
    _write_migration(project.migrations_dir, INIT, INIT_SQL)
    _write_migration(project.migrations_dir, INCIDENT, INCIDENT_SQL)
    return project


def _write_migration(migrations_dir: Path, name: str, text: str) -> Path:
    folder = migrations_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "migration.sql"
    path.write_text(text)
    return path


def seed_production(dsn: str, project: DemoProject) -> None:
    """Apply the init migration as `prisma migrate deploy` would, then load production-like rows:
    customers, payments, late-fee runs — and three payments whose customers were deleted by hand."""
    ledger = project.ledger()
    init = project.migration(INIT)
    with connect(dsn) as conn:
        ledger.ensure_table(conn)
        entry_id = ledger.record_started(conn, init)
        with conn.transaction():
            conn.execute(init.sql)
        ledger.record_finished(conn, entry_id, applied_steps_count=1)
        with conn.transaction():
            conn.execute(
                'INSERT INTO "Customer" ("email", "name", "createdAt") '
                "SELECT 'customer' || g || '@example.com', 'Customer ' || g, now() - g * interval '1 day' "
                "FROM generate_series(1, %s) AS g",
                (CUSTOMERS,),
            )
            conn.execute(
                'INSERT INTO "Payment" ("customerId", "amount", "dueDate", "createdAt") '
                "SELECT 1 + (g %% %s), round((10 + (g * 37 %% 990))::numeric, 2), "
                "now() + ((g %% 60) - 30) * interval '1 day', now() - (g %% 90) * interval '1 day' "
                "FROM generate_series(1, %s) AS g",
                (CUSTOMERS, PAYMENTS - len(ORPHAN_CUSTOMER_IDS)),
            )
            for customer_id in ORPHAN_CUSTOMER_IDS:
                conn.execute(
                    'INSERT INTO "Payment" ("customerId", "amount", "dueDate") '
                    "VALUES (%s, 120.00, now() - interval '45 days')",
                    (customer_id,),
                )
            conn.execute(
                'INSERT INTO "LateFeeRun" ("processedAt", "paymentsCharged") '
                "SELECT now() - g * interval '1 day', 10 + g FROM generate_series(0, 29) AS g"
            )


def reproduce_incident(dsn: str, project: DemoProject) -> IncidentState:
    """Run the incident migration statement by statement, as a script without a transaction
    does, recording Prisma's ledger row; the foreign key fails on the orphan payments.

    Returns:
        What the catalog shows afterwards (columns added, index present, no foreign key).

    Raises:
        RuntimeError: the migration did not fail the way the scenario needs (a bug in the demo).
    """
    ledger = project.ledger()
    incident = project.migration(INCIDENT)
    failure: psycopg.Error | None = None
    with connect(dsn) as conn:
        entry_id = ledger.record_started(conn, incident)
        for statement in split_statements(incident.sql, INCIDENT):
            try:
                conn.execute(statement.text)
            except psycopg.Error as exc:
                failure = exc
                break
        if failure is None:
            raise RuntimeError(f"the demo's {INCIDENT} migration applied cleanly; it was meant to fail")
        ledger.record_failed(conn, entry_id, prisma_failure_log(INCIDENT, failure))
    state = observe_incident(dsn)
    return IncidentState(
        sqlstate=failure.sqlstate or "",
        error=str(failure).splitlines()[0],
        columns_added=state.columns_added,
        index_created=state.index_created,
        foreign_key_created=state.foreign_key_created,
        orphan_payments=state.orphan_payments,
    )


def prisma_failure_log(name: str, error: psycopg.Error) -> str:
    """The ``logs`` text Prisma stores for a failed migration (P3018), from the real error."""
    diag = error.diag
    lines = [
        "A migration failed to apply. New migrations cannot be applied before the error is recovered from. "
        "Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve",
        "",
        f"Migration name: {name}",
        "",
        f"Database error code: {error.sqlstate}",
        "",
        "Database error:",
        f"ERROR: {diag.message_primary}",
    ]
    if diag.message_detail:
        lines.append(f"DETAIL: {diag.message_detail}")
    return "\n".join(lines) + "\n"


def observe_incident(dsn: str) -> IncidentState:
    """The incident's footprint as the catalog shows it right now."""
    with connect(dsn) as conn:
        columns = tuple(
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = '\"Payment\"'::regclass AND attnum > 0 "
                "AND NOT attisdropped AND attname = ANY(%s) ORDER BY attnum",
                (["status", "paidAt", "lateFeeAmount", "lateFeeAppliedAt"],),
            )
        )
        index = conn.execute("SELECT to_regclass('\"Payment_status_dueDate_idx\"') IS NOT NULL").fetchone()[0]
        fkey = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'Payment_customerId_fkey'"
        ).fetchone()[0] > 0
        orphans = count_orphan_payments(conn)
    return IncidentState("", "", columns, bool(index), fkey, orphans)


ORPHANS_QUERY = (
    'SELECT p.* FROM "Payment" p LEFT JOIN "Customer" c ON c."id" = p."customerId" WHERE c."id" IS NULL'
)


def count_orphan_payments(conn: psycopg.Connection) -> int:
    """Payments whose customer no longer exists (what the foreign key refuses)."""
    return conn.execute(sql.SQL("SELECT count(*) FROM ({}) AS orphans").format(sql.SQL(ORPHANS_QUERY))).fetchone()[0]


ARCHIVE_SCHEMA = "archive"


def archive_orphan_payments(dsn: str) -> int:
    """The operator's data fix: move orphan payments to ``archive.orphan_payments`` (nothing is lost).

    The archive lives outside the migrated schema, so the schema stays exactly what the migrations
    produce (recover's drift check would rightly flag a stray table in ``public``).

    Returns:
        How many payments were moved.
    """
    archive = sql.Identifier(ARCHIVE_SCHEMA, "orphan_payments")
    with connect(dsn) as conn, conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(ARCHIVE_SCHEMA)))
        conn.execute(sql.SQL('CREATE TABLE IF NOT EXISTS {} (LIKE "Payment" INCLUDING DEFAULTS)').format(archive))
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (f'{ARCHIVE_SCHEMA}.orphan_payments',),
            )
        ]
        column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        moved = conn.execute(
            sql.SQL(
                'WITH moved AS (DELETE FROM "Payment" p WHERE NOT EXISTS '
                '(SELECT 1 FROM "Customer" c WHERE c."id" = p."customerId") RETURNING p.*) '
                "INSERT INTO {archive} ({cols}) SELECT {cols} FROM moved"
            ).format(archive=archive, cols=column_list)
        ).rowcount
    return moved
