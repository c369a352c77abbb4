"""The training section: `make train` timed in fresh processes, and where its time goes."""
from __future__ import annotations

import json
import os
import sys

from bench.measure import child_env, run_measured, timed, words
from bench.report import table
from pipeline.config import load_config
from pipeline.features.lemma_cache import CACHE_ENV
from pipeline.features.lemmatizer import SpacyLemmatizer


def train_section(ctx) -> dict:
    """`make train` (seed, then EXTRA) twice each in fresh processes: cold, then warm lemma cache."""
    res = {}
    sets = [("seed", None)] + ([] if ctx.quick else [("extra", ctx.data)])
    for name, extra in sets:
        cache = ctx.tmp / f"cache-{name}"
        for state in ("cold", "warm"):
            args = [sys.executable, "-m", "pipeline", "--config", str(ctx.config_path), "train"]
            args += ["--extra", str(extra)] if extra else []
            r = run_measured(args, child_env(cache))
            run_id = (ctx.models / "LATEST").read_text().strip()
            metrics = json.loads((ctx.models / run_id / "metrics.json").read_text())
            res[f"{name}_{state}"] = {"wall_s": r["wall_s"], "max_rss_mb": r["max_rss_mb"], "run": run_id,
                                      "rows": metrics["n_train"], "chosen": metrics["chosen"],
                                      "macro_f1": metrics["domain"]["macro_f1"], "scored_on": metrics["selected_on"],
                                      "stages": _stage_times(r["stderr"])}
        ctx.runs[name] = ctx.models / res[f"{name}_cold"]["run"]
    table("Training (`make train`, fresh process each, wall seconds)",
          ["set", "rows", "cold cache s", "warm cache s", "saved s", "chosen", "CV macro-F1", "CV scored on"],
          [[n, res[f"{n}_cold"]["rows"], res[f"{n}_cold"]["wall_s"], res[f"{n}_warm"]["wall_s"],
            res[f"{n}_cold"]["wall_s"] - res[f"{n}_warm"]["wall_s"], res[f"{n}_cold"]["chosen"],
            res[f"{n}_cold"]["macro_f1"], res[f"{n}_cold"]["scored_on"]] for n, _ in sets])
    res["breakdown"] = train_breakdown(ctx, sets, res)
    return res


def _stages() -> list[tuple[str, str]]:
    """The log lines of `make train` that end each stage (modeling/train.py logs them; 1 s resolution)."""
    from pipeline.config import load_config

    recipes = load_config()["train"]["recipes"]
    return ([("spaCy tagger pass (cold runs) and the unlabeled pool (self-training)", "lemmas of")]
            + [(f"{r} recipe CV (all repeats)", f"recipe {r} ") for r in recipes]
            + [("baselines CV", "baseline dummy"),
               ("refit of the chosen + digital flag CV and fit", "digital flag"),
               ("save the run folder", "written to")])


def _stage_times(log: str) -> dict:
    """Seconds between the log lines that close each stage of training."""
    import datetime as dt

    stamps = []
    for line in log.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] == "INFO":
            stamps.append((dt.datetime.strptime(parts[0], "%H:%M:%S"), parts[2]))
    if not stamps:
        return {}
    out, previous = {}, next((t for t, m in stamps if "preprocessing of" in m), stamps[0][0])
    for name, marker in _stages():
        at = next((t for t, m in stamps if marker in m), None)
        if at is not None:
            out[name] = (at - previous).seconds
            previous = at
    return out


def train_breakdown(ctx, sets, runs: dict) -> dict:
    """Where training time goes: the stages of the warm `make train` (from its log), and the
    tagger pass in process: cold with 1 and 2 processes (nlp.pipe n_process), then warm."""
    from pipeline.domains import load_label_set
    from pipeline.io.sources import load_training_data

    name, extra = sets[-1]
    config = load_config(ctx.config_path)
    frame, _ = load_training_data(config["paths"]["labeled"], load_label_set(config["paths"]["labels"]), extra,
                                  config["paths"]["sources"])
    texts = frame["text"].tolist()
    n_words, stage = words(texts), {}
    for label, n_process, cache in (("tagger pass, cold cache, n_process=1", 1, ctx.tmp / "bd-1"),
                                     ("tagger pass, cold cache, n_process=2", 2, ctx.tmp / "bd-2"),
                                     ("tagger pass, warm cache", 1, ctx.tmp / "bd-1")):
        os.environ[CACHE_ENV] = str(cache)
        lem = SpacyLemmatizer(n_process=n_process)
        if "cold" in label:
            stage[f"load spaCy's tagger pipeline (before: {label})"], _ = timed(lambda: lem.nlp)  # noqa: B023 (called at once)
        stage[label], _ = timed(lambda: lem.fit(texts))  # noqa: B023 (called at once)
    os.environ[CACHE_ENV] = "off"
    rows = [[name, k, v, n_words / v if k.startswith("tagger") else None] for k, v in stage.items()]
    logged = {n: runs[f"{n}_warm"]["stages"] for n, _ in sets}
    rows += [[f"{n}, warm `make train`", k, float(v), None] for n, st in logged.items() for k, v in st.items()]
    table(f"Training breakdown ({name}: {len(texts):,} texts, {n_words:,} words)", ["set", "step", "seconds",
                                                                                     "words/s"], rows)
    return {"set": name, "rows": len(texts), "words": n_words, "seconds": {k: round(v, 2) for k, v in stage.items()},
            "warm_train_stages_s": logged}
