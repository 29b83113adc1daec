"""The lock files: what `make` installs, and the commands that keep them honest.

    python devtools/lock.py check      are the lock files made from pyproject.toml as it is?
    python devtools/lock.py write      uv lock, then export requirements*.txt   (make lock)
    python devtools/lock.py upgrade    the same, upgrading every pin in range  (make lock-upgrade)
    python devtools/lock.py audit      vulnerable pins (pip-audit) and outdated ones (make audit)

`pyproject.toml` keeps the ranges; `uv.lock` is uv's resolution of them (every platform),
and `requirements.txt` (production) and `requirements-dev.txt` (production and the dev extra)
are exported from it with hashes for plain pip, so a fresh machine needs no uv to install.
Each export starts with a digest of the dependency tables of pyproject.toml it was made from:
`check` compares it, so a dependency added to pyproject.toml without `make lock` stops the
install with a message instead of silently installing something else.

`check` uses the standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
UV_LOCK = ROOT / "uv.lock"
EXPORTS = {
    ROOT / "requirements.txt": [],
    ROOT / "requirements-dev.txt": ["--extra", "dev"],
}
DIGEST_PREFIX = "# pyproject-dependencies-sha256: "
REGENERATE = "make lock"


def digest(pyproject: Path = PYPROJECT) -> str:
    """Of what decides the resolution (requires-python and the dependency tables), parsed,
    so formatting and comments do not matter, and other settings (ruff, pytest) neither."""
    project = tomllib.loads(pyproject.read_text())["project"]
    relevant = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            extra: sorted(reqs) for extra, reqs in project.get("optional-dependencies", {}).items()
        },
    }
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recorded_digest(path: Path) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text().splitlines()[:20]:
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX) :].strip()
    return None


def problems(pyproject: Path = PYPROJECT, uv_lock: Path = UV_LOCK, exports=tuple(EXPORTS)):
    """What is wrong with the lock files, in words (nothing: an empty list)."""
    expected = digest(pyproject)
    found = []
    for path in (uv_lock, *exports):
        if not path.exists():
            found.append(f"{path.name} is missing")
        elif path != uv_lock and recorded_digest(path) != expected:
            found.append(f"{path.name} was not made from the dependencies in {pyproject.name}")
    return found


def check() -> int:
    found = problems()
    if not found:
        return 0
    print("The lock files do not match pyproject.toml:", file=sys.stderr)
    for problem in found:
        print(f"  - {problem}", file=sys.stderr)
    print(
        f"Run `{REGENERATE}` to resolve the ranges again (it keeps every pin that still fits), "
        "review the diff of uv.lock and commit it with pyproject.toml.",
        file=sys.stderr,
    )
    return 1


def uv() -> str:
    """uv from the virtualenv, installed there first if needed: the version the dev lock
    pins (hash-checked), or else the range the dev extra asks for."""
    beside = Path(sys.executable).with_name("uv")
    if not beside.exists():
        pinned = _locked_block(ROOT / "requirements-dev.txt", "uv")
        if pinned:
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as req:
                req.write(pinned)
                req.flush()
                _run(sys.executable, "-m", "pip", "install", "--require-hashes", "-r", req.name)
        else:
            dev = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["dev"]
            wanted = next(r for r in dev if r.replace(" ", "").startswith("uv>"))
            _run(sys.executable, "-m", "pip", "install", wanted)
    return str(beside) if beside.exists() else (shutil.which("uv") or sys.exit("uv is missing"))


def _locked_block(path: Path, name: str) -> str | None:
    """The lines of `path` that pin `name` (with their hashes), or None."""
    if not path.exists():
        return None
    block: list[str] = []
    for line in path.read_text().splitlines():
        if block and not line.startswith(" "):
            break
        if block or line.startswith(f"{name}=="):
            block.append(line)
    return "\n".join(block) + "\n" if block else None


def _run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    # uv knows no pip configuration: it resolves against PyPI itself.
    subprocess.run(args, cwd=ROOT, check=True)  # noqa: S603 - our own fixed commands


def write(*, upgrade: bool = False) -> int:
    _run(uv(), "lock", *(["--upgrade"] if upgrade else []))
    stamp = digest()
    for path, extra in EXPORTS.items():
        exported = subprocess.run(  # noqa: S603
            [
                uv(),
                "export",
                "--frozen",
                "--format",
                "requirements-txt",
                "--no-emit-project",
                "--no-header",
                *extra,
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        what = "production" if not extra else "production and the dev extra"
        header = (
            f"# Generated by `{REGENERATE}` from uv.lock: {what}, pinned with hashes.\n"
            "# Do not edit: change the ranges in pyproject.toml and run it again.\n"
            f"{DIGEST_PREFIX}{stamp}\n"
        )
        path.write_text(header + exported)
        print(f"wrote {path.name}")
    return 0


def audit() -> int:
    """Vulnerable pins fail (exit 1); pins that could not be checked fail too (exit 2: an
    audit that checked nothing must not look clean). Newer releases are only reported."""
    try:
        status = _vulnerabilities()
    except (subprocess.TimeoutExpired, OSError) as exc:
        print(f"pip-audit could not run: {exc}")
        status = 2
    try:
        _outdated()
    except (subprocess.TimeoutExpired, OSError) as exc:
        print(f"could not list newer releases: {exc}")
    return status


def _vulnerabilities() -> int:
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(ROOT / "requirements-dev.txt"),
            "--require-hashes",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(f"pip-audit failed:\n{result.stderr.strip()}")
        return 2
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    print(f"pip-audit: {len(dependencies)} pinned packages, {len(vulnerable)} vulnerable")
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix released"
            print(f"  VULNERABLE {dep['name']}=={dep['version']}: {vuln['id']} (fixed in {fixes})")
    if skipped:
        print(f"  could not check {len(skipped)} package(s), e.g. {skipped[0]['skip_reason']}")
    if vulnerable:
        return 1
    return 2 if skipped else 0


def _outdated() -> None:
    # Within our ranges: what `make lock-upgrade` would change.
    dry = subprocess.run(  # noqa: S603
        [uv(), "lock", "--upgrade", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    updates = [
        line.strip() for line in dry.stderr.splitlines() if line.strip().startswith("Update")
    ]
    print(f"within the ranges of pyproject.toml: {len(updates)} newer release(s)")
    for line in updates:
        print(f"  {line}")
    # Beyond them: releases our upper bounds keep out (a range to review, not a bug).
    beyond = subprocess.run(  # noqa: S603
        [uv(), "pip", "list", "--outdated", "--python", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print("installed versus the newest release (upper bounds included):")
    print("  " + ("\n  ".join(beyond.stdout.strip().splitlines()) or "all current"))


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "check":
        return check()
    if command == "write":
        return write()
    if command == "upgrade":
        return write(upgrade=True)
    if command == "audit":
        return audit()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
