"""Which rules run and at which severity: ``LINT_DISABLE`` / ``LINT_SEVERITY`` and
``[tool.migration-guard.lint]`` in the project's pyproject.toml.

Examples::

    LINT_DISABLE=prefer-timestamptz,prefer-text-over-varchar
    LINT_SEVERITY=ban-drop-column=warning,prefer-jsonb=off
    LINT_ENABLE=require-table-schema,require-statement-timeout

    [tool.migration-guard.lint]
    disable = ["prefer-timestamptz"]
    enable = ["require-table-schema"]
    severity = { ban-drop-column = "warning", prefer-jsonb = "off" }

Environment values are applied after pyproject.toml (they win). ``off`` disables a rule. Opt-in rules
(``Rule.opt_in``) run only when enabled (``enable`` / ``LINT_ENABLE``, or a severity given for them).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.lint.findings import SEVERITIES, Finding


@dataclass(frozen=True)
class LintConfig:
    """Rules to skip, opt-in rules to run, and severity overrides (``off`` is expressed by ``disabled``)."""

    disabled: frozenset[str] = frozenset()
    severities: dict[str, str] = field(default_factory=dict)
    enabled: frozenset[str] = frozenset()

    def runs(self, code: str) -> bool:
        """True when findings of rule ``code`` are kept (not disabled; opt-in rules only when enabled)."""
        from migration_guard.tasks.lint.registry import get_rule

        if code in self.disabled:
            return False
        rule = get_rule(code)
        return not (rule is not None and rule.opt_in) or code in self.enabled or code in self.severities

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """Drop findings of disabled (or not enabled opt-in) rules and re-level the overridden ones."""
        from dataclasses import replace

        result = []
        for finding in findings:
            if not self.runs(finding.rule):
                continue
            level = self.severities.get(finding.rule)
            result.append(replace(finding, severity=level) if level and level != finding.severity else finding)
        return result

    def merged(self, other: LintConfig) -> LintConfig:
        """This config with ``other``'s choices on top."""
        severities = {**self.severities, **other.severities}
        disabled = (self.disabled - set(other.severities) - other.enabled) | other.disabled
        enabled = (self.enabled - other.disabled) | other.enabled
        return LintConfig(frozenset(disabled), severities, frozenset(enabled))


def parse_config(disable: str | list[str] | None = None, severity: str | dict[str, str] | None = None,
                 source: str = "LINT_SEVERITY", enable: str | list[str] | None = None) -> LintConfig:
    """Build a LintConfig from ``"a,b"`` / list (disable, enable) and ``"rule=level,..."`` / dict.

    Raises:
        ConfigError: an unknown rule code or severity, naming ``source``.
    """
    from migration_guard.tasks.lint.registry import rules_by_code

    known = rules_by_code()
    disabled: set[str] = set()
    for code in _items(disable):
        _require_known(code, known, source.replace("SEVERITY", "DISABLE"))
        disabled.add(code)
    enabled: set[str] = set()
    for code in _items(enable):
        _require_known(code, known, source.replace("SEVERITY", "ENABLE"))
        enabled.add(code)
    levels: dict[str, str] = {}
    pairs = severity.items() if isinstance(severity, dict) else (_pair(item, source) for item in _items(severity))
    for code, level in pairs:
        code, level = str(code).strip(), str(level).strip().lower()
        _require_known(code, known, source)
        if level == "off":
            disabled.add(code)
        elif level in SEVERITIES:
            levels[code] = level
        else:
            raise ConfigError(
                f"{source}: unknown severity {level!r} for {code}",
                "use one of error, warning, info, off (e.g. ban-drop-column=warning)",
            )
    return LintConfig(frozenset(disabled), levels, frozenset(enabled))


def load_config(project_root: Path | None = None, environ: dict[str, str] | None = None) -> LintConfig:
    """pyproject.toml's ``[tool.migration-guard.lint]`` (in ``project_root``, default the current
    folder) then ``LINT_DISABLE`` / ``LINT_SEVERITY`` from the environment.

    Raises:
        ConfigError: unreadable pyproject.toml, unknown rule or severity.
    """
    environ = os.environ if environ is None else environ
    config = LintConfig()
    pyproject = (project_root or Path.cwd()) / "pyproject.toml"
    if pyproject.is_file():
        section = _pyproject_section(pyproject)
        if section:
            config = parse_config(section.get("disable"), section.get("severity"),
                                  source=f"{pyproject} [tool.migration-guard.lint] severity",
                                  enable=section.get("enable"))
    from_env = parse_config(environ.get("LINT_DISABLE"), environ.get("LINT_SEVERITY"), source="LINT_SEVERITY",
                            enable=environ.get("LINT_ENABLE"))
    return config.merged(from_env)


def _pyproject_section(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "fix the file or remove [tool.migration-guard.lint]") from None
    section = data.get("tool", {}).get("migration-guard", {}).get("lint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.migration-guard.lint] must be a table")
    return section


def _items(value: str | list[str] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


def _pair(item: str, source: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"{source}: expected rule=level, got {item!r}", "e.g. LINT_SEVERITY=ban-drop-column=warning,prefer-jsonb=off")
    code, level = item.split("=", 1)
    return code, level


def _require_known(code: str, known: dict[str, Any], source: str) -> None:
    if code not in known:
        raise ConfigError(f"{source}: unknown lint rule {code!r}", "run `migration-guard lint --explain-all` to list the rules")
