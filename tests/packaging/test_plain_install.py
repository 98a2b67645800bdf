"""The package's dependencies are declared exactly: a plain install (no extras) runs.

A copy of this checkout is installed into a fresh virtualenv without the ``test`` extra, as a
deployment installs it (from a checkout: the dbt project and workspace.yaml sit beside the
package); uv installs from its cache when it can, so this costs seconds, not downloads. In it:
- ``ticketing --help`` and ``ticketing demo --help`` run;
- every module of the package imports (an import of an undeclared library fails here, even if
  the development venv happens to have it), but ``definitions``, which loads the whole Dagster
  code location (its modules, ``defs/``, are imported);
- no test-only library (pytest, hypothesis, playwright, aiosmtpd) is importable, so the check
  above really ran without them.
Separately, every declared dependency is imported somewhere in the package (or is named below
with the reason it is declared without an import), so nothing unused stays declared.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ticketing_pipeline"
TEST_ONLY = ("pytest", "hypothesis", "playwright", "aiosmtpd")

# Declared on purpose without an import of the same name in the package.
DECLARED_WITHOUT_IMPORT = {
    "dagster-webserver": "`dagster dev` and the production webserver (run as a command)",
    "dagster-postgres": "Dagster's run/event storage on PostgreSQL (named in dagster.yaml)",
    "dbt-core": "dbt runs as a subprocess (`transform/dbt.py`); its version is read",
    "dbt-duckdb": "the dbt adapter for DuckDB (loaded by dbt)",
    "dbt-postgres": "the dbt adapter for PostgreSQL (loaded by dbt)",
    "duckdb-engine": "SQLAlchemy's DuckDB dialect (loaded from the URL scheme)",
    "psycopg2-binary": "SQLAlchemy's and dlt's PostgreSQL driver (imported as psycopg2)",
    "uvicorn": "serves the receiver, the Gigs feed and the sandbox (imported)",
}
# Distribution -> module, where they differ.
IMPORT_NAMES = {
    "dagster-dlt": "dagster_dlt",
    "dagster-dbt": "dagster_dbt",
    "pyyaml": "yaml",
    "argon2-cffi": "argon2",
    "pyrate-limiter": "pyrate_limiter",
    "psycopg2-binary": "psycopg2",
}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_used() -> None:
    imported = _imported_top_level_modules()
    unused = []
    for spec in _project()["dependencies"]:
        name = Requirement(spec).name.lower()
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        if module not in imported and name not in DECLARED_WITHOUT_IMPORT:
            unused.append(name)
    assert not unused, f"declared but never imported by the package: {unused}"


PROBE = """
import importlib, pkgutil, sys
import ticketing_pipeline
failed = []
for module in pkgutil.walk_packages(ticketing_pipeline.__path__, "ticketing_pipeline."):
    if module.name.endswith("__main__") or module.name == "ticketing_pipeline.definitions":
        continue
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{module.name}: {type(error).__name__}: {error}")
present = [name for name in TEST_ONLY if importlib.util.find_spec(name)]
print("FAILED", failed)
print("TEST_ONLY_PRESENT", present)
sys.exit(1 if failed or present else 0)
"""


@pytest.mark.xdist_group("plain_install")
def test_a_plain_install_runs_the_cli_and_imports_every_module(tmp_path: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build the plain install (make setup installs it)")
    venv = tmp_path / "plain"
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    # A copy of the checkout: installing it leaves no egg-info behind in this tree.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "data", "target", "*.egg-info", "tests", "__pycache__"
        ),
    )
    done = subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-e", str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    # Run from outside the checkout, so only the installed package can be imported.
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 300}
    for args in (["--help"], ["demo", "--help"]):
        cli = subprocess.run([str(venv / "bin" / "ticketing"), *args], **run)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "Usage" in cli.stdout
    probe = f"TEST_ONLY = {TEST_ONLY!r}\n" + PROBE
    imports = subprocess.run([str(venv / "bin" / "python"), "-c", probe], **run)
    assert imports.returncode == 0, imports.stdout + imports.stderr[-3000:]
    assert "FAILED []" in imports.stdout and "TEST_ONLY_PRESENT []" in imports.stdout
