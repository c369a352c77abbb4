"""axe-core, the accessibility checker tests/test_report_browser.py runs on the page, pinned like the map.

`make axe-core` (run by .ci/run) installs it into .cache/axe-core/ (gitignored) with the mechanism of
`make communes`: `npm pack` of the pinned version, its sha512 checked before anything is unpacked.
Without it (no npm, or not installed) the axe test is skipped.
"""
import logging

from pipeline.config import PROJECT_DIR
from pipeline.report.external import install_npm_package

AXE_PACKAGE = "axe-core"
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
AXE_FOLDER = PROJECT_DIR / ".cache" / "axe-core"

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    install_npm_package(AXE_PACKAGE, AXE_VERSION, AXE_INTEGRITY, AXE_FOLDER)
