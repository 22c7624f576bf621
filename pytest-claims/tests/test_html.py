"""--claims-html: one self-contained page with every claim, its margin bars and attached figures."""

import base64
import re
import shutil
import subprocess

import pytest

# A 1x1 PNG, enough to check that an attached figure is embedded.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                         "AAAABJRU5ErkJggg==")

SUITE = '''
import base64
import pytest
from pytest_claims import Reference, Source, attach_figure

@pytest.mark.claim("H1", source=Source(paper="Doe 2020", arxiv="2001.00001", section="3"))
@pytest.mark.parametrize("x", [1, 3])
def test_bound(claim, x):
    """x stays below two."""
    claim.check("x", x, "<", 2, Reference(0.5, 1.5, "seeds 0-4"))

@pytest.mark.claim("H2")
def test_drift(claim):
    """Drifts."""
    claim.check("y", 0.5, ">", 0.1, Reference(0.8, 0.9, "seeds 0-4"))

def test_figure(request):
    attach_figure(request.node, "F1 <curve>", base64.b64decode("{pixel}"), baseline=base64.b64decode("{pixel}"),
                  diff=base64.b64decode("{pixel}"), rms=12.5)
'''.replace("{pixel}", base64.b64encode(PIXEL).decode())


@pytest.fixture
def page(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--claims-html=out/page.html")
    assert result.ret == 1  # H1 with x=3 fails
    result.stdout.fnmatch_lines(["claims page written to out/page.html"])
    return pytester.path / "out" / "page.html"


def test_the_page_holds_every_claim_its_bars_and_the_figure(page):
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<link" not in html and "<script" not in html  # self-contained
    assert re.findall(r'<span class="claim-id">([^<]+)</span>', html) == ["H1", "H1", "H2"]
    assert html.count("<svg") == 3 and 'aria-label="margin of x"' in html
    assert '<a href="https://arxiv.org/abs/2001.00001">arXiv</a>' in html
    assert ">DRIFT<" in html and ">FAILED<" in html and ">PASSED<" in html
    assert "F1 &lt;curve&gt;" in html and html.count("data:image/png;base64,") == 3  # this run, baseline, diff
    assert "RMS 12.5" in html


def test_the_ini_key_writes_the_page_too(pytester):
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\nclaims_html = from-ini.html\n")
    pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert (pytester.path / "from-ini.html").is_file()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
# Reads, after layout, which claim ids are on screen: a non-empty box that is not hidden.
VISIBLE_IDS = """<script>document.addEventListener("DOMContentLoaded", () => {
  const ids = [...document.querySelectorAll(".claim-id")].filter(e => {
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none";
  }).map(e => e.textContent);
  const out = document.createElement("pre");
  out.id = "vis" + "ible";  // spelled apart, so the script's own text never matches the result's tag
  out.textContent = ids.join(",");
  document.body.append(out);
});</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt install chromium)")
def test_chromium_renders_every_claim_visibly(page, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", VISIBLE_IDS + "</body>"))
    dom = _chromium("--dump-dom", probe.as_uri()).stdout
    assert re.search(r'<pre id="visible">([^<]*)</pre>', dom).group(1).split(",") == ["H1", "H1", "H2"]
    shot = tmp_path / "page.png"
    _chromium("--window-size=1200,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
