"""Regenerate cases.json: squawk's own rule tests (crates/squawk_linter/src/rules/*.rs) as SQL cases.

Usage (from the repository root, after `fetch github:sbdchd/squawk`):

    .venv/bin/python tests/data/squawk-conformance/extract.py /work/.mirror/sbdchd+squawk/repo [--squawk .venv/bin/squawk]

Each ``#[test]`` function of a rule module gives one case per SQL literal it lints (``let sql = ...``
or ``fix("...")``); ``format!`` SQL is skipped. ``expect`` is what the test helper asserts
(``lint_errors``/``fix*`` = the rule fires, ``lint_ok`` = it does not, None = unknown). With
``--squawk`` every case is also run through the squawk CLI (the oracle): ``squawk_fires``.
The repository is read with ``git show`` (a bare mirror is enough); nothing is executed from it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

RULES_DIR = "crates/squawk_linter/src/rules"
HERE = Path(__file__).resolve().parent
#: squawk rules that report under other names.
EMITTED_AS = {"require-timeout-settings": ("require-lock-timeout", "require-statement-timeout")}


def kebab(name: str) -> str:
    """``RequireConcurrentReindex`` → ``require-concurrent-reindex``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo_git_dir(repo)), *args], check=True,
                          capture_output=True, text=True).stdout


def repo_git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


_LITERAL = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)


def rust_string(match: re.Match) -> str:
    if match.group(2) is not None and match.group(0).startswith("r"):
        return match.group(2)
    body = match.group(3)
    body = re.sub(r"\\\n\s*", "", body)  # line continuation
    return (body.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"').replace("\\'", "'")
            .replace("\\\\", "\\"))


def split_tests(source: str) -> list[tuple[str, str]]:
    """(test name, body) for every #[test] fn."""
    tests = []
    for match in re.finditer(r"#\[test\]\s*(?:#\[[^\]]*\]\s*)*fn\s+(\w+)\s*\(\)\s*\{", source):
        start, depth, i = match.end(), 1, match.end()
        while depth and i < len(source):
            char = source[i]
            if char == "r" and source[i:i + 2] in ('r"', 'r#'):
                lit = _LITERAL.match(source, i)
                if lit:
                    i = lit.end()
                    continue
            if char == '"':
                lit = _LITERAL.match(source, i)
                i = lit.end() if lit else i + 1
                continue
            depth += char == "{"
            depth -= char == "}"
            i += 1
        tests.append((match.group(1), source[start:i - 1]))
    return tests


def module_helpers(source: str) -> dict[str, str]:
    """Local helpers like ``fn fix(sql: &str) -> String { fix_sql(sql, Rule::X) }`` → {"fix": "fix_sql"}."""
    helpers = {}
    for match in re.finditer(r"fn\s+(\w+)\s*\(sql: &str\)[^{]*\{\s*(\w+)\(sql,", source):
        helpers[match.group(1)] = match.group(2)
    return helpers


def expectation(helper: str) -> str | None:
    if helper.startswith("lint_ok"):
        return "ok"
    if helper.startswith(("lint_errors", "fix")):
        return "error"
    return None


def cases_of_module(module: str, source: str) -> list[dict]:
    if "mod test" not in source:
        return []
    test_source = source[source.index("mod test"):]
    rules = re.findall(r"Rule::(\w+)", test_source)
    default_rule = kebab(rules[0]) if rules else module.replace("_", "-")
    helpers = module_helpers(test_source)
    cases = []
    for name, body in split_tests(test_source):
        rule_names = re.findall(r"Rule::(\w+)", body)
        rule = kebab(rule_names[0]) if rule_names else default_rule
        settings = {}
        version = re.search(r'pg_version:\s*"([\d.]+)"', body)
        if version:
            settings["pg_version"] = version.group(1)
        if re.search(r"assume_in_transaction:\s*true", body):
            settings["assume_in_transaction"] = True
        called = [h for h in re.findall(r"\b(lint_ok_with|lint_errors_with|lint_ok|lint_errors|fix_sql_with|fix_sql|"
                                        + "|".join(map(re.escape, helpers)) + r")\s*\(", body)] if helpers else \
            re.findall(r"\b(lint_ok_with|lint_errors_with|lint_ok|lint_errors|fix_sql_with|fix_sql)\s*\(", body)
        helper = helpers.get(called[0], called[0]) if called else ""
        sqls = []
        for let in re.finditer(r"let\s+sql\s*=\s*", body):
            lit = _LITERAL.match(body, let.end())
            if lit:
                sqls.append(rust_string(lit))
        if not sqls:  # fix("...") / lint("...") calls with inline SQL
            for call in re.finditer(r"\b(?:" + "|".join(map(re.escape, helpers or {"fix": ""})) + r")\(\s*", body):
                lit = _LITERAL.match(body, call.end())
                if lit:
                    sqls.append(rust_string(lit))
        for index, sql in enumerate(sqls):
            cases.append({
                "id": f"{module}::{name}" + (f"#{index + 1}" if len(sqls) > 1 else ""),
                "squawk_rule": rule, "sql": sql, "settings": settings, "expect": expectation(helper),
            })
    return cases


def run_squawk(squawk: str, case: dict, include: str) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.sql"
        path.write_text(case["sql"])
        args = [squawk, "--reporter", "json", f"--include={include}"]
        if "pg_version" in case["settings"]:
            args.append(f"--pg-version={case['settings']['pg_version']}")
        if case["settings"].get("assume_in_transaction"):
            args.append("--assume-in-transaction")
        out = subprocess.run([*args, str(path)], capture_output=True, text=True)
        try:
            return sorted({v["rule_name"] for v in json.loads(out.stdout or "[]")})
        except json.JSONDecodeError:
            return ["<crash>"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="the fetched squawk repository (git dir or checkout)")
    parser.add_argument("--squawk", help="squawk CLI to record the oracle's verdict per case")
    parser.add_argument("--out", type=Path, default=HERE / "cases.json")
    args = parser.parse_args()
    commit = git(args.repo, "rev-parse", "HEAD").strip()
    files = [f for f in git(args.repo, "ls-tree", "--name-only", f"HEAD:{RULES_DIR}").split() if f.endswith(".rs")]
    cases = []
    for name in sorted(files):
        if name == "mod.rs":
            continue
        cases.extend(cases_of_module(name[:-3], git(args.repo, "show", f"HEAD:{RULES_DIR}/{name}")))
    version = None
    if args.squawk:
        version = subprocess.run([args.squawk, "--version"], capture_output=True, text=True).stdout.strip()
        include = ",".join(sorted({n for c in cases for n in EMITTED_AS.get(c["squawk_rule"], (c["squawk_rule"],))}))
        for case in cases:
            fired = run_squawk(args.squawk, case, include)
            targets = EMITTED_AS.get(case["squawk_rule"], (case["squawk_rule"],))
            case["squawk_fired"] = fired
            case["squawk_fires"] = any(t in fired for t in targets)
    args.out.write_text(json.dumps({"source": "https://github.com/sbdchd/squawk", "commit": commit,
                                    "oracle": version, "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} cases from {commit[:10]} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
