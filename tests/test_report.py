"""The HTML report: one self-contained page whose four charts are valid PNGs and render in headless chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from test_progress import seed_store
from viva.cli import app
from viva.reports import load_progress
from viva.reports.html import CHARTS, render_html
from viva.store import Store, utcnow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IMG = re.compile(r'<img id="([a-z-]+)" class="chart" alt="[^"]+" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def seeded_page() -> str:
    now = utcnow()
    with Store() as store:
        qs = seed_store(store, now)
        return render_html(load_progress(store, qs, now), now)


def test_page_is_self_contained_with_four_png_charts():
    page = seeded_page()
    charts = dict(IMG.findall(page))
    assert list(charts) == list(CHARTS)
    for data in charts.values():
        png = base64.b64decode(data)
        assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    # Nothing is fetched: no external scripts, styles, fonts or images.
    assert not re.search(r'(src|href)="(https?:|//|file:)', page)
    assert "<script" not in page
    assert "<td>overall</td><td>5</td><td>60%</td><td>40%</td>" in page


def test_report_command_writes_the_file_and_rejects_bad_paths(tmp_path):
    runner = CliRunner()
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", "--html", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Wrote {out}") and len(IMG.findall(out.read_text(encoding="utf-8"))) == 4
    r = runner.invoke(app, ["report", "--html", str(tmp_path / "missing" / "r.html")])
    assert r.exit_code == 1
    assert r.stderr == f"viva: {tmp_path / 'missing'}: no such folder; create it or choose another path\n"


def _screenshot(page: Path, shot: Path) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="viva-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
            capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _colour_share(shot: Path, rgb: tuple[int, int, int], tolerance: int = 12) -> float:
    import numpy as np
    from matplotlib import image

    pixels = (image.imread(shot)[..., :3] * 255).astype(int)
    close = (abs(pixels - np.array(rgb)) <= tolerance).all(axis=-1)
    return float(close.mean())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium; "
                                             "make test installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(seeded_page(), encoding="utf-8")
    shot = tmp_path / "report.png"
    done = _screenshot(page, shot)
    assert shot.is_file(), done.stderr[-2000:]
    keep = Path(tempfile.gettempdir()) / "viva-report-screenshot.png"
    shutil.copy(shot, keep)  # kept for a human to look at
    # The charts' bar colours are on screen: the embedded PNGs were decoded and painted.
    assert _colour_share(shot, (0x1F, 0x77, 0xB4)) > 0.002  # could say / say aloud (blue)
    assert _colour_share(shot, (0xFF, 0x7F, 0x0E)) > 0.002  # recognized (orange)
    assert _colour_share(shot, (0xD6, 0x27, 0x28)) > 0.0005  # missed concepts (red)
