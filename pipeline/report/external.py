"""Installing outside reference data: an npm package, checked against a pinned integrity.

`make communes` runs `python -m pipeline fetch-communes`: `npm pack` downloads the
pinned tarball of Etalab's `@etalab/decoupage-administratif` from the npm registry, its
sha512 is compared with the value committed in config/pipeline.toml ([report]
etalab_integrity, npm's Subresource-Integrity form), and only then is it unpacked into
data/external/ (gitignored). A second run with the same pin does nothing.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.report.communes import INSTALLED_MARKER, read_installed

log = logging.getLogger(__name__)

ETALAB_FOLDER = "etalab-decoupage-administratif"


def etalab_folder(config: dict) -> Path:
    """Where the package is installed: <paths.external>/etalab-decoupage-administratif."""
    from pipeline.config import PROJECT_DIR

    external = config["paths"].get("external") or str(PROJECT_DIR / "data" / "external")
    return Path(external) / ETALAB_FOLDER


def etalab_pin(config: dict) -> tuple[str, str, str]:
    """(package, version, integrity) from [report] in the config."""
    report = config.get("report", {})
    try:
        return report["etalab_package"], report["etalab_version"], report["etalab_integrity"]
    except KeyError as exc:
        raise PipelineError(f"{config.get('config_file', 'config')}: [report] {exc.args[0]} is not set") from None


def integrity_of(path: Path, algorithm: str = "sha512") -> str:
    """The Subresource-Integrity string of a file, as npm writes it: "sha512-<base64>"."""
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return f"{algorithm}-{base64.b64encode(h.digest()).decode()}"


def verify_integrity(path: Path, expected: str) -> None:
    """Raise unless the file matches one of the expected "algo-base64" hashes."""
    wanted = [e for e in expected.split() if "-" in e]
    if not wanted:
        raise PipelineError(f"integrity {expected!r} is not of the form sha512-<base64>")
    for entry in wanted:
        algorithm = entry.split("-", 1)[0]
        if algorithm not in ("sha512", "sha384", "sha256", "sha1"):
            continue
        if integrity_of(path, algorithm) == entry:
            return
    got = integrity_of(path, wanted[0].split("-", 1)[0])
    raise PipelineError(f"{path.name}: checksum mismatch: expected {wanted[0]}, got {got}; "
                        f"the download is not the pinned package, nothing was installed")


def npm_pack(spec: str, folder: Path) -> Path:
    """Download the tarball of `spec` into `folder` with `npm pack`; return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise PipelineError("npm is not installed: install Node.js and npm to fetch the commune reference, "
                            "or give a communes CSV with --communes")
    done = subprocess.run([npm, "pack", spec, "--json", "--silent"], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise PipelineError(f"`npm pack {spec}` failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    try:
        name = json.loads(done.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        tarballs = sorted(folder.glob("*.tgz"))
        if len(tarballs) != 1:
            raise PipelineError(f"`npm pack {spec}` wrote no tarball") from None
        return tarballs[0]
    return folder / name.replace("/", "-").lstrip("@")


def extract_package(tarball: Path, dest: Path) -> None:
    """Unpack an npm tarball's package/ folder into dest (regular files only, nothing outside)."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = Path(member.name).parts
            if len(parts) < 2 or ".." in parts or Path(member.name).is_absolute():
                continue
            target = dest.joinpath(*parts[1:])  # drop the leading package/
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def install_npm_package(package: str, version: str, integrity: str, dest: str | Path,
                        pack: Callable[[str, Path], Path] = npm_pack) -> Path:
    """Install package@version into dest after checking its integrity; skip if already there."""
    dest = Path(dest)
    installed = read_installed(dest)
    if installed.get("version") == version and installed.get("integrity") == integrity:
        log.info("%s@%s already installed in %s", package, version, dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    old = dest.with_name(f".{dest.name}.old")
    try:
        tarball = pack(f"{package}@{version}", tmp)
        verify_integrity(tarball, integrity)
        unpacked = tmp / "package"
        extract_package(tarball, unpacked)
        marker = {"package": package, "version": version, "integrity": integrity,
                  "tarball": tarball.name, "installed": datetime.now(UTC).isoformat(timespec="seconds")}
        (unpacked / INSTALLED_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(unpacked, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s@%s installed in %s (integrity checked: %s)", package, version, dest, integrity[:20] + "…")
    return dest


def install_etalab(config: dict, pack: Callable[[str, Path], Path] = npm_pack) -> Path:
    package, version, integrity = etalab_pin(config)
    return install_npm_package(package, version, integrity, etalab_folder(config), pack)
