"""Regenerate tasks/sql/nonvolatile_functions.py from a PostgreSQL server's pg_catalog."""
import sys, textwrap
import psycopg

url = sys.argv[1]
with psycopg.connect(url) as conn:
    version = conn.execute("SHOW server_version").fetchone()[0]
    names = [r[0] for r in conn.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND prokind IN ('f', 'w', 'a') "
        "GROUP BY proname HAVING bool_and(provolatile IN ('i', 's')) ORDER BY proname")]
body = textwrap.fill(" ".join(names), width=110)
out = f'''"""Built-in functions that are never volatile: every pg_catalog overload is IMMUTABLE or STABLE
(PostgreSQL {version}, {len(names)} names). A DEFAULT calling anything else — a user function, an
extension's, an unknown name — counts as volatile (a rewrite) unless the live catalog says otherwise.

Regenerated from a server's catalog (the query is the whole method):

    SELECT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND prokind IN ('f', 'w', 'a')
    GROUP BY proname HAVING bool_and(provolatile IN ('i', 's'));

with ``.venv/bin/python tests/data/nonvolatile-functions/generate.py postgresql://postgres@127.0.0.1:5432/postgres``.
"""

NONVOLATILE_BUILTINS: frozenset[str] = frozenset("""
{body}
""".split())
'''
open(sys.argv[2] if len(sys.argv) > 2 else "tasks/sql/nonvolatile_functions.py", "w").write(out)
print(len(names), version)
