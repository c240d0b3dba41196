"""`viva --help` must stay cheap: importing the CLI loads no heavy library."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "sentence_transformers", "transformers", "whisper", "faster_whisper", "ctranslate2",
         "sounddevice", "pyttsx3", "matplotlib", "genanki")


def test_import_cli_leaves_heavy_libraries_unloaded():
    code = ("import sys, viva.cli; heavy = %r; print(','.join(m for m in heavy if m in sys.modules))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_runs_without_heavy_imports():
    code = ("import sys\nfrom viva.cli import app\nfrom typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "heavy = %r\nprint(','.join(m for m in heavy if m in sys.modules))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_viva_works():
    out = subprocess.run([sys.executable, "-m", "viva", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("viva ")
