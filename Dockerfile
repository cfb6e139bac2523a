# migration-guard worker image: Python 3.11, migration-guard with Prefect 3.9, and PostgreSQL client
# tools (pg_dump / pg_restore / psql) of the SAME major version as the database server — pg_dump
# refuses servers newer than itself, and a newer pg_dump writes dumps an older pg_restore cannot read.
#   docker build --build-arg PG_MAJOR=15 -t migration-guard .
FROM python:3.11-slim-bookworm

ARG PG_MAJOR=15
ENV PG_MAJOR=${PG_MAJOR} \
    PYTHONUNBUFFERED=1 \
    MIGRATION_GUARD_HOME=/app \
    BACKUP_DIR=/data/backups \
    LOG_DIR=/data/logs \
    ALERTS_DIR=/data/alerts \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

# PostgreSQL's own apt repository (PGDG) carries every supported major version of the client.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
      https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && apt-get purge -y gnupg && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && pg_dump --version | grep -q " ${PG_MAJOR}\."

WORKDIR /app
# Dependencies first, pinned (.ci/constraints.txt): this layer is rebuilt only when the pins change,
# not on every code change. prefect 3.9 pins a certifi newer than some registries offer: uv's
# --override (see README).
COPY .ci/overrides.txt .ci/constraints.txt .ci/
RUN pip install --no-cache-dir uv \
 && uv pip install --system --no-cache --compile-bytecode --override .ci/overrides.txt -r .ci/constraints.txt

COPY pyproject.toml README.md ./
COPY cli cli
COPY flows flows
COPY tasks tasks
COPY blocks blocks
COPY deployments deployments
RUN uv pip install --system --no-cache --compile-bytecode --no-deps . \
 && migration-guard --help > /dev/null

RUN useradd --create-home --uid 10001 guard \
 && mkdir -p /data/backups /data/logs /data/alerts \
 && chown -R guard:guard /data
USER guard
VOLUME ["/data/backups", "/data/logs", "/data/alerts"]

# The worker by default; docker-compose.yml overrides the command for the one-shot `deploy`.
CMD ["prefect", "worker", "start", "--pool", "migration-guard", "--type", "process", "--with-healthcheck"]
