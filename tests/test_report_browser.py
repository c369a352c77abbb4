"""The HTML page opened in headless Chromium: its title, every chart shown with a source line, and the PDF.

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
from report_fixtures import as_read, predictions, report_config

from pipeline.cli import main

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

CHECK = """<script>
addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                                  height: i.naturalHeight, shown: i.getBoundingClientRect().width,
                                                  source: (i.closest("figure")?.querySelector(".source")
                                                           ?.textContent || "")}));
  const h1 = document.querySelector("h1")?.textContent || "";
  const tiles = document.querySelectorAll(".tile").length;
  const verdicts = [...document.querySelectorAll("#essentiel .verdict")].map(v => v.textContent);
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify({title: document.title, h1: h1, images: images, tiles: tiles,
                                    verdicts: verdicts,
                                    sections: document.querySelectorAll("section h2").length});
  document.body.appendChild(out);
});
</script>"""


def open_in_chromium(page: Path, profile: Path, *flags: str) -> dict:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}", *flags,
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    found = re.search(r'<pre id="image-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_the_page_loads_in_chromium_with_every_chart_shown(tmp_path):
    config = report_config(tmp_path)
    predictions().to_parquet(tmp_path / "tiny.parquet", index=False)
    title = "Baromètre des services publics locaux numériques — l'Ain & l'Aisne"
    source = "Source : DGCL, dotations DETR et DSIL (data.gouv.fr) ; traitement : barometre"
    assert main(["--config", str(config), "-q", "report", "--predictions", str(tmp_path / "tiny.parquet"),
                 "--title", title, "--source", source]) == 0
    folder = tmp_path / "reports" / "tiny"
    page = (folder / "rapport.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the report itself has none: the check is added to a copy
    copy = folder / "check.html"
    copy.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")

    result = open_in_chromium(copy, tmp_path / "profile")

    charts = sorted(p.stem for p in (folder / "figures").glob("*.png"))
    assert result["title"] == title and result["h1"] == title
    assert result["sections"] >= 6 and 4 <= result["tiles"] <= 6 and result["verdicts"]
    assert len(result["images"]) == len(charts) >= 5
    broken = [i["alt"] for i in result["images"] if not (i["complete"] and i["width"] > 0 and i["height"] > 0
                                                         and i["shown"] > 0)]
    assert not broken, f"images not shown: {broken}"
    assert [as_read(i["source"]) for i in result["images"]] == [source] * len(charts)
    # Charts at print quality: a 10-inch figure at 200 dpi is at least 1,500 pixels wide.
    assert min(i["width"] for i in result["images"]) >= 1500
    pdf = (folder / "rapport.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and _pdf_pages(pdf) >= 3


# Chromium's window is never narrower than 500 px: the page is measured inside iframes of a small phone, a
# phone and a tablet's width, all in one run of Chromium.
NARROW = (320, 375, 768)
FRAMES = "".join(f'<iframe src="rapport.html" style="width:{w}px;height:700px;border:0"></iframe>' for w in NARROW)
PHONE = """<!DOCTYPE html><html><body style="margin:0">FRAMES<script>
const frames = [...document.querySelectorAll("iframe")];
let loaded = 0;
// once the box is scrolled to its end: is the caption (as wide as the box at most) still in it, and each row's name?
const inSight = (box, t) => {
  const caption = t.querySelector("caption"), narrow = caption.getBoundingClientRect().width <= box.clientWidth + 1;
  box.scrollLeft = box.scrollWidth;
  const left = box.getBoundingClientRect().left - 1;
  const seen = {caption: narrow && caption.getBoundingClientRect().left >= left,
                rows: [...t.rows].every(r => r.cells[0].getBoundingClientRect().left >= left)};
  box.scrollLeft = 0;
  return seen;
};
const measure = f => {
  const d = f.contentDocument, vw = d.documentElement.clientWidth;
  const tables = [...d.querySelectorAll("table")].map(t => {
    const box = t.closest(".table-scroll");
    return {id: t.id, fits: t.getBoundingClientRect().width <= vw, scrolls: !!box && box.scrollWidth > box.clientWidth,
            focusable: !!box && box.tabIndex === 0, role: box?.getAttribute("role"), label: box?.getAttribute("aria-label"),
            caption: t.querySelector("caption").textContent, seen: box ? inSight(box, t) : {caption: true, rows: true}};
  });
  const columns = new Set([...d.querySelectorAll("nav li")].map(li => Math.round(li.getBoundingClientRect().left))).size;
  return {viewport: vw, page: d.documentElement.scrollWidth, tables: tables, toc_columns: columns};
};
frames.forEach(f => f.addEventListener("load", () => {
  if (++loaded < frames.length) return;
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify(frames.map(measure));
  document.body.appendChild(out);
}));
</script></body></html>""".replace("FRAMES", FRAMES)


@pytest.fixture(scope="module")
def narrow_pages(tmp_path_factory) -> list[dict]:
    """The tiny report measured at each width of NARROW (a long word in its source line: a commit's hash)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    tmp_path = tmp_path_factory.mktemp("narrow")
    config = report_config(tmp_path)
    predictions().to_parquet(tmp_path / "tiny.parquet", index=False)
    assert main(["--config", str(config), "-q", "report", "--predictions", str(tmp_path / "tiny.parquet"),
                 "--no-pdf", "--source", "Source : " + "0123456789abcdef" * 4]) == 0
    folder = tmp_path / "reports" / "tiny"
    (folder / "phone.html").write_text(PHONE, encoding="utf-8")
    results = open_in_chromium(folder / "phone.html", tmp_path / "profile", "--allow-file-access-from-files",
                               "--window-size=1200,800")
    return list(zip(NARROW, results, strict=True))


def test_the_page_is_no_wider_than_a_phone_screen(narrow_pages):
    """At 375 px the tables (9 columns) and a long word (the commit's hash) made the page 2.5 times wider
    than the screen: a wide table now scrolls in its own box, a long word breaks. At 320 px (a small phone)
    a tile, never narrower than 19em, made the page wider than the screen."""
    for width, result in narrow_pages:
        assert result["viewport"] <= width and result["page"] == result["viewport"], (width, result["page"])
        tables = result["tables"]
        assert all(t["fits"] or t["scrolls"] for t in tables), (width, [t["id"] for t in tables])
    assert any(t["scrolls"] for t in narrow_pages[0][1]["tables"])  # the domains table is wider than a phone


def test_a_table_scrolling_in_its_box_is_reached_by_the_keyboard_and_named(narrow_pages):
    """The box a wide table scrolls in took no focus (Safari's keyboard could not scroll it) and was not named:
    it is now a region named by its table's caption, in the tab order (WCAG 2.1.1)."""
    for width, result in narrow_pages:
        unnamed = [t["id"] for t in result["tables"] if not (t["focusable"] and t["role"] == "region" and t["label"]
                                                              and as_read(t["caption"]).startswith(as_read(t["label"])))]
        assert not unnamed, f"at {width} px, boxes not reached by the keyboard or not named: {unnamed}"


def test_a_table_caption_is_read_whole_beside_its_scrolling_table(narrow_pages):
    """A table wider than a phone drew its caption (and its CSV link) as wide as itself: the box cut it
    off, and it scrolled out of sight with the table. It is now as wide as the box, and stays in it."""
    for width, result in narrow_pages:
        cut = [t["id"] for t in result["tables"] if not t["seen"]["caption"]]
        assert not cut, f"at {width} px, captions cut off by their scrolling box: {cut}"


def test_the_table_of_contents_is_one_column_on_a_phone_and_two_on_a_tablet(narrow_pages):
    """Two columns of the table of contents on a phone left 140 px to a title: « Annexe — Codes commune
    non rapprochés » took three lines. A column is now 16em wide at least."""
    assert [result["toc_columns"] for _, result in narrow_pages] == [1, 1, 2]


def test_a_row_keeps_its_name_in_sight_while_its_table_scrolls(narrow_pages):
    """Scrolled to its last columns on a phone, a table showed figures without the row they belong to: the
    first cell of each row (its name, and the columns' corner) now stays at the box's left edge."""
    for width, result in narrow_pages:
        lost = [t["id"] for t in result["tables"] if not t["seen"]["rows"]]
        assert not lost, f"at {width} px, tables whose rows' names scroll out of sight: {lost}"


def _pdf_pages(data: bytes) -> int:
    from test_report import _pdf_pages as pages

    return pages(data)


# axe-core's WCAG 2.1 A/AA rules and its best practices, run once the page has loaded; its violations
# written into the DOM as the checks above write theirs.
AXE_RUN = """<script>
addEventListener("load", () => {
  axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}).then(r => {
    const out = document.createElement("pre");
    out.id = "image-check";
    out.textContent = JSON.stringify({passes: r.passes.length, violations: r.violations.map(
      v => ({rule: v.id, impact: v.impact, where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))});
    document.body.appendChild(out);
  });
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_axe_core_finds_no_accessibility_violation_in_the_page(tmp_path):
    """The page checked by axe-core (WCAG 2.1 A and AA, best practices), as RGAA 4.1 asks of a public body's
    page: it found text under 4.5:1 and content outside landmarks. What axe cannot judge (alt texts that say
    what a chart shows, its figures as a table) is checked by the accessibility tests of test_report.py."""
    from axe_core import AXE_FOLDER, AXE_VERSION

    from pipeline.report.communes import read_installed

    if read_installed(AXE_FOLDER).get("version") != AXE_VERSION:
        pytest.skip(f"axe-core {AXE_VERSION} is not installed (make axe-core; needs npm)")
    config = report_config(tmp_path)
    predictions().to_parquet(tmp_path / "tiny.parquet", index=False)
    assert main(["--config", str(config), "-q", "report", "--predictions", str(tmp_path / "tiny.parquet"),
                 "--no-pdf"]) == 0
    folder = tmp_path / "reports" / "tiny"
    axe = (AXE_FOLDER / "axe.min.js").read_text(encoding="utf-8")
    page = (folder / "rapport.html").read_text(encoding="utf-8")
    (folder / "axe.html").write_text(page.replace("</body>", f"<script>{axe}</script>{AXE_RUN}</body>"),
                                     encoding="utf-8")

    result = open_in_chromium(folder / "axe.html", tmp_path / "profile")

    assert result["passes"] >= 30 and result["violations"] == [], result["violations"]
