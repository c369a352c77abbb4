"""The HTML page opened in headless Chromium: it loads, and every chart is shown.

Uses Debian's chromium (/usr/bin/chromium, installed by .ci/run in CI). A copy of
the page gets a small script that, once the page has loaded, writes each <img>'s
state into the DOM; `chromium --dump-dom` prints that DOM.
"""
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from report_fixtures import predictions, report_config

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

CHECK = """<script>
addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                  height: i.naturalHeight}));
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify({title: document.title, images: images,
                                    sections: document.querySelectorAll("section h2").length});
  document.body.appendChild(out);
});
</script>"""


def open_in_chromium(page: Path, profile: Path) -> dict:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    found = re.search(r'<pre id="image-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_the_page_loads_in_chromium_with_every_chart_shown(tmp_path):
    config = report_config(tmp_path)
    predictions().to_parquet(tmp_path / "tiny.parquet", index=False)
    assert main(["--config", str(config), "-q", "report", "--predictions", str(tmp_path / "tiny.parquet")]) == 0
    folder = tmp_path / "reports" / "tiny"
    page = (folder / "rapport.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the report itself has none: the check is added to a copy
    copy = folder / "check.html"
    copy.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")

    result = open_in_chromium(copy, tmp_path / "profile")

    charts = sorted(p.stem for p in (folder / "figures").glob("*.png"))
    assert result["title"].startswith("Baromètre des services publics locaux numériques")
    assert result["sections"] >= 6
    assert len(result["images"]) == len(charts) >= 5
    broken = [i["alt"] for i in result["images"] if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"images not shown: {broken}"
