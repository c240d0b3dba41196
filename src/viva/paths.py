"""The one module that knows where viva keeps things.

``VIVA_HOME`` overrides the per-user data dir (platformdirs); the database, recordings, user banks and
user models all live below it. Tests point ``VIVA_HOME`` at a temp dir so no test touches a real home.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "viva"
_PACKAGE_DIR = Path(__file__).resolve().parent
# In a source checkout (editable install) the project root is two levels above the package.
_SOURCE_ROOT = _PACKAGE_DIR.parent.parent


def home() -> Path:
    """The user data dir: ``$VIVA_HOME`` if set, else the platform's user data dir for viva."""
    env = os.environ.get("VIVA_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def db_path() -> Path:
    return home() / "viva.db"


def recordings_dir() -> Path:
    return home() / "recordings"


def backups_dir() -> Path:
    return home() / "backups"


def user_banks_dir() -> Path:
    """Users drop their own bank YAML files here; they load beside the built-in bank."""
    return home() / "banks"


def user_models_dir() -> Path:
    return home() / "models"


def project_root() -> Path | None:
    """The source checkout this package runs from, if any."""
    if (_SOURCE_ROOT / "pyproject.toml").is_file():
        return _SOURCE_ROOT
    return None


def project_models_dir() -> Path | None:
    root = project_root()
    return root / "models" if root else None


def models_dirs() -> list[Path]:
    """Folders searched for assembled or user-provided models, most specific first."""
    dirs = [user_models_dir()]
    project = project_models_dir()
    if project is not None:
        dirs.insert(0, project)
    return dirs


def builtin_bank_dir() -> Path:
    """The question bank shipped with viva (inside the wheel, or ``question_bank/`` in a checkout)."""
    packaged = _PACKAGE_DIR / "question_bank"
    if packaged.is_dir():
        return packaged
    return _SOURCE_ROOT / "question_bank"
