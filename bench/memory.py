"""The memory section: predict on 10,000 to 1,000,000 distinct texts, peak memory and time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.inputs import dgcl_files, model_run
from bench.measure import words
from bench.predict_child import predict_child
from bench.report import table
from pipeline.features.text import normalize
from pipeline.io.tables import read_table


def distinct_inputs(ctx, sizes: list[int]) -> dict[int, tuple[Path, int]]:
    """CSV files of n rows whose texts are all distinct (after normalisation): two real DGCL titles joined."""
    frames = [read_table(p) for p in dgcl_files(ctx.data)]
    pool = pd.concat(frames)[["beneficiaire_code_insee", "intitule"]]
    pool = pool.assign(key=pool["intitule"].map(normalize)).drop_duplicates("key")
    pool = pool[pool["key"] != ""]
    titles, codes = pool["intitule"].str.strip().tolist(), pool["beneficiaire_code_insee"].tolist()
    rng = np.random.default_rng(5)
    seen, rows = set(), []
    n_max = max(sizes)
    while len(rows) < n_max:
        for a, b in rng.integers(len(titles), size=(n_max - len(rows), 2)):
            text = f"{titles[a]} {titles[b]}"
            key = normalize(text)
            if a != b and key not in seen:
                seen.add(key)
                rows.append((codes[a], text))
    out = {}
    frame = pd.DataFrame(rows, columns=["beneficiaire_code_insee", "intitule"])
    frame.insert(0, "id", [f"r{i:07d}" for i in range(len(frame))])
    for n in sizes:
        path = ctx.tmp / f"distinct-{n}.csv"
        frame.iloc[:n].to_csv(path, sep=";", index=False)
        out[n] = (path, words(frame["intitule"].iloc[:n]))
    return out


def memory_section(ctx) -> dict:
    sizes = ctx.sizes
    inputs = distinct_inputs(ctx, sizes)
    run = model_run(ctx)
    res = {}
    for n in sizes:
        path, n_words = inputs[n]
        r = predict_child(run, [path], ctx.tmp, jobs=0)
        res[n] = {"rows": n, "words": n_words, "predict_s": r["predict_s"], "wall_s": r["wall_s"],
                  "load_s": r["load_s"], "jobs": r["files"][0]["jobs"], "max_rss_mb": r["max_rss_mb"],
                  "tree_pss_mb": r["tree_pss_mb"], "tree_rss_mb": r["tree_rss_mb"],
                  "words_per_s": round(n_words / r["predict_s"]), "rows_per_s": round(n / r["predict_s"])}
        path.unlink()
    lo, mid, hi = sizes[0], sizes[len(sizes) // 2] if len(sizes) > 2 else sizes[0], sizes[-1]
    res["ratios"] = {f"max_rss_{hi}_vs_{lo}": round(res[hi]["max_rss_mb"] / res[lo]["max_rss_mb"], 2),
                     f"tree_pss_{hi}_vs_{lo}": (round(res[hi]["tree_pss_mb"] / res[lo]["tree_pss_mb"], 2)
                                                if res[lo]["tree_pss_mb"] else None),
                     f"time_{hi}_vs_{mid}": round(res[hi]["predict_s"] / res[mid]["predict_s"], 2),
                     "rows": [lo, mid, hi]}
    table("Predict on distinct texts (pairs of DGCL titles), CSV in and out, fresh process each",
          ["rows", "processes", "predict s", "words/s", "rows/s", "max RSS MB (1 process)", "tree PSS MB",
           "tree RSS MB"],
          [[n, res[n]["jobs"], res[n]["predict_s"], res[n]["words_per_s"], res[n]["rows_per_s"], res[n]["max_rss_mb"],
            res[n]["tree_pss_mb"], res[n]["tree_rss_mb"]] for n in sizes])
    print(f"  ratios: {res['ratios']}")
    return res
