"""The throughput section: predict end to end on the DGCL years, beside spaCy alone."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench.inputs import combined_dgcl, dgcl_files, dgcl_texts, model_run
from bench.measure import load_avg, timed, words
from bench.predict_child import predict_child
from bench.report import table
from pipeline.features.lemmatizer import SpacyLemmatizer, _model_meta


def throughput_section(ctx) -> dict:
    """Predict end to end on the three DGCL years, beside spaCy's full pipeline and tokenizer."""
    texts_by_file = dgcl_texts(ctx.data)
    texts = [t for ts in texts_by_file.values() for t in ts]
    n_words, n_rows = words(texts), len(texts)
    sample = texts if not ctx.quick else texts[::10]
    res = {"rows": n_rows, "words": n_words, "load_before": load_avg()}
    model_name = SpacyLemmatizer().model
    spacy_rates = {}
    for label, exclude, part in (("full", [], sample), ("tagger", ["parser", "ner", "senter"], None),
                                 ("tokenizer", None, texts)):
        if label == "tagger":
            part = texts_by_file["dotations-2023.csv"] if not ctx.quick else sample
        if exclude is None:  # the tokenizer alone: every component left out
            exclude = list(_model_meta(model_name).get("components", []))
        spacy_rates[label] = spacy_rate(model_name, exclude, part, tokenizer_only=label == "tokenizer")
    res["spacy"] = spacy_rates
    run = model_run(ctx)
    every = [combined_dgcl(ctx)]
    y2023 = [dgcl_files(ctx.data)[-1]]
    w2023, r2023 = words(texts_by_file["dotations-2023.csv"]), len(texts_by_file["dotations-2023.csv"])
    # The runs on the whole file are repeated in turn (--repeats) and their median kept: this
    # machine is shared, and one run can be slowed by others' load (the full spaCy run, two
    # minutes long, averages that out by itself).
    configs = [("fast, 2 processes, CSV out", every, dict(jobs=0), ctx.repeats),
               ("fast, 2 processes, CSV out, no dedup", every, dict(jobs=0, dedup=False), ctx.repeats),
               ("fast, 2 processes, Parquet out", every, dict(jobs=0, suffix="parquet"), ctx.repeats),
               ("fast, 1 process, CSV out", every, dict(jobs=1), ctx.repeats),
               ("fast, 1 process, Parquet, 2023 only", y2023, dict(jobs=1, suffix="parquet", keep="fast"), 1),
               ("plain (before), 1 process, Parquet, 2023 only", y2023,
                dict(jobs=1, suffix="parquet", dedup=False, variant="plain", keep="plain"), 1),
               ("tagger (slow path), 2 processes, CSV, 2023 only", y2023, dict(jobs=0, variant="tagger"), 1)]
    runs: dict[str, list] = {label: [] for label, *_ in configs}
    for rep in range(max(c[3] for c in configs)):
        for label, inputs, kw, repeats in configs:
            if rep < repeats:
                runs[label].append(predict_child(run, inputs, ctx.tmp, **kw))
    sizes = {label: (n_words, n_rows) if inputs is every else (w2023, r2023) for label, inputs, *_ in configs}
    res["predict"] = median_rates(runs, sizes)
    full, tok = spacy_rates["full"]["words_per_s"], spacy_rates["tokenizer"]["words_per_s"]
    head = res["predict"]["fast, 2 processes, CSV out"]
    res["ratios"] = {"predict_vs_full_spacy": round(head["words_per_s"] / full, 1),
                     "predict_vs_full_spacy_per_cpu_s": round(head["words_per_cpu_s"]
                                                              / spacy_rates["full"]["words_per_cpu_s"], 1),
                     "predict_cold_vs_full_spacy": round(head["words_per_s_cold"] / full, 1),
                     "predict_vs_tokenizer": round(head["words_per_s"] / tok, 2),
                     "fast_vs_plain_2023_1_process": round(
                         res["predict"]["fast, 1 process, Parquet, 2023 only"]["words_per_s"]
                         / res["predict"]["plain (before), 1 process, Parquet, 2023 only"]["words_per_s"], 1),
                     "tokenizer_vs_full_spacy": round(tok / full, 1)}
    res["load_after"] = load_avg()
    res["identical_to_plain"] = identical_check(ctx)
    table(f"spaCy alone, one process ({n_rows:,} DGCL titles, {n_words:,} words)",
          ["pipeline", "texts", "words", "seconds", "words/s", "words/CPU-s", "x full"],
          [[k, v["texts"], v["words"], v["seconds"], v["words_per_s"], v["words_per_cpu_s"], v["words_per_s"] / full]
           for k, v in spacy_rates.items()])
    table(f"Predict end to end (read, preprocess, classify, write): the three years as one {n_rows:,}-row CSV "
          f"(median of {ctx.repeats} runs), or 2023 alone; a fresh process each",
          ["variant", "rows", "words/s", "rows/s", "x full spaCy", "words/CPU-s", "predict s", "all runs s",
           "load s", "wall s", "max RSS MB"],
          [[k, v["rows"], v["words_per_s"], v["rows_per_s"], v["words_per_s"] / full, v["words_per_cpu_s"],
            v["predict_s"], " ".join(f"{x:.1f}" for x in v["predict_s_runs"]), v["load_s"], v["wall_s"],
            v["max_rss_mb"]] for k, v in res["predict"].items()])
    print(f"  ratios: {res['ratios']}; load average {res['load_before']} -> {res['load_after']}")
    print(f"  fast vs plain predictions on dotations-2023: {res['identical_to_plain']}")
    return res


def median_rates(runs: dict[str, list[dict]], sizes: dict[str, tuple[int, int]]) -> dict[str, dict]:
    """Each variant's median run (by predict s), with its rates over the words and rows it labeled.

    sizes: label -> (words, rows) of that variant's input, which differs between variants
    (the three years, or 2023 alone).
    """
    out = {}
    for label, variant_runs in runs.items():
        all_s = [r["predict_s"] for r in variant_runs]
        r = dict(sorted(variant_runs, key=lambda r: r["predict_s"])[len(all_s) // 2])
        w, rows = sizes[label]
        r.update(words=w, rows=rows, words_per_s=round(w / r["predict_s"]), rows_per_s=round(rows / r["predict_s"]),
                 words_per_cpu_s=round(w / r["predict_cpu_s"]), words_per_s_cold=round(w / r["wall_s"]),
                 predict_s_runs=all_s)
        out[label] = r
    return out


def spacy_rate(model_name: str, exclude: list[str], part: list[str], *, tokenizer_only: bool) -> dict:
    """Words per second (and per CPU-second) of spaCy alone over part, in this process. A function
    of its own so that each pipeline is freed on return, before the next one loads."""
    import spacy

    nlp = spacy.load(model_name, exclude=exclude)
    if not tokenizer_only:
        list(nlp.pipe(part[:200]))  # warm-up
    docs = nlp.tokenizer.pipe(part, batch_size=1000) if tokenizer_only else nlp.pipe(part, batch_size=256)
    cpu = time.process_time()
    s, _ = timed(lambda: sum(1 for _ in docs))
    cpu = time.process_time() - cpu
    return {"texts": len(part), "words": words(part), "seconds": round(s, 2),
            "cpu_s": round(cpu, 2), "words_per_s": round(words(part) / s),
            "words_per_cpu_s": round(words(part) / cpu), "components": nlp.pipe_names}


def identical_check(ctx) -> dict:
    """The fast path's predictions on dotations-2023 against the plain path's, row by row."""
    a, b = (pd.read_parquet(ctx.tmp / f"kept-{v}" / "dotations-2023.pred.parquet") for v in ("fast", "plain"))
    probas = [c for c in a.columns if c.startswith("proba_")]
    return {"rows": len(a), "same_domain": int((a["domain"] == b["domain"]).sum()),
            "same_digital": int((a["digital"] == b["digital"]).sum()),
            "max_abs_proba_diff": float(np.abs(a[probas].to_numpy() - b[probas].to_numpy()).max())}
