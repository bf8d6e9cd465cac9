"""The package's seams, checked on its source: the store owns every SQL statement and its connection, and no
module keeps a cache at module level. Each exception list names modules a change is still under way in; it
may only shrink."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dmarcflow"
_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+"
                  r"(TABLE|INDEX)|PRAGMA\s)", re.IGNORECASE | re.DOTALL)

# Modules outside store/ that may still import sqlite3, use a store's connection, or hold SQL.
SQLITE_IMPORTS_AT_MOST: set[str] = set()
CONNECTION_USE_AT_MOST: set[str] = set()
EXECUTE_AT_MOST: set[str] = set()
SQL_AT_MOST: set[str] = set()
# Modules that may keep a functools cache at module level.
MODULE_CACHES_AT_MOST = {"index/document.py"}


def _modules(outside_store: bool = True) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if outside_store and name.startswith("store/"):
            continue
        yield name, ast.parse(path.read_text(encoding="utf-8"), name)


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_store_imports_sqlite3() -> None:
    importing = {name for name, tree in _modules() if "sqlite3" in _imports(tree)}
    assert importing <= SQLITE_IMPORTS_AT_MOST, f"sqlite3 imported outside store/: {sorted(importing - SQLITE_IMPORTS_AT_MOST)}"


def test_no_module_outside_the_store_uses_its_connection() -> None:
    using = {name for name, tree in _modules()
             if any(isinstance(node, ast.Attribute) and node.attr in ("conn", "_conn") for node in ast.walk(tree))}
    assert using <= CONNECTION_USE_AT_MOST, f"a store's connection used outside store/: {sorted(using - CONNECTION_USE_AT_MOST)}"


def test_no_module_outside_the_store_executes_statements() -> None:
    executing = {name for name, tree in _modules()
                 if any(isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript")
                        for node in ast.walk(tree))}
    assert executing <= EXECUTE_AT_MOST, f"statements executed outside store/: {sorted(executing - EXECUTE_AT_MOST)}"


def test_sql_is_written_only_in_the_store() -> None:
    holding = set()
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
                holding.add(name)
    assert holding <= SQL_AT_MOST, f"SQL outside store/: {sorted(holding - SQL_AT_MOST)}"


def test_the_sql_pattern_finds_statements() -> None:
    """The check above would pass vacuously if its pattern matched nothing: it finds each kind of statement."""
    for sql in ("SELECT id FROM reports", "INSERT OR IGNORE INTO ip_pending (ip) VALUES (?)", "DELETE FROM records",
                "UPDATE reports SET status = ?", "CREATE TABLE t (x)", "PRAGMA user_version"):
        assert _SQL.search(sql), sql
    for text in ("select a sender", "update the record", "delete processed mails"):
        assert not _SQL.search(text), text


def _module_level_caches(tree: ast.Module) -> list[str]:
    """Module-level functions memoised by functools, but for those without parameters: a constant read once
    (the Public Suffix List) is not a cache of answers."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.args.args:
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in ("lru_cache", "cache"):
                    found.append(node.name)
    return found


def test_caches_are_owned_by_instances() -> None:
    caching = {name for name, tree in _modules(outside_store=False) if _module_level_caches(tree)}
    assert caching <= MODULE_CACHES_AT_MOST, f"module-level caches: {sorted(caching - MODULE_CACHES_AT_MOST)}"
