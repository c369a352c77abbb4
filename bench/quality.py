"""The dedup and f1 sections: what deduplication saves, and macro-F1 of each preprocessing variant."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from bench.inputs import combined_dgcl, dgcl_texts, model_run
from bench.measure import PROJECT, words
from bench.predict_child import predict_child
from bench.report import table
from pipeline.config import load_config
from pipeline.features.lemma_cache import CACHE_ENV
from pipeline.features.lemmatizer import SpacyLemmatizer
from pipeline.features.text import normalize


def dedup_section(ctx) -> dict:
    texts = [t for ts in dgcl_texts(ctx.data).values() for t in ts]
    keyed = [normalize(t) for t in texts]
    run = model_run(ctx)
    from pipeline.modeling.run_folder import load_model

    lem = load_model(load_config()["paths"]["models"], str(run)).lemmatizer
    lemmas = lem.transform(texts)
    res = {"rows": len(texts), "distinct_texts": len(set(texts)), "distinct_normalised": len(set(keyed)),
           "distinct_lemma_strings": len(set(lemmas))}
    done = ctx.results.get("throughput", {}).get("predict", {})
    for label, dedup, key in (("dedup on", True, "fast, 2 processes, CSV out"),
                              ("dedup off", False, "fast, 2 processes, CSV out, no dedup")):
        r = done.get(key) or predict_child(run, [combined_dgcl(ctx)], ctx.tmp, jobs=0, dedup=dedup)
        res[label] = {"predict_s": r["predict_s"], "words_per_s": round(words(texts) / r["predict_s"]),
                      "predict_s_runs": r.get("predict_s_runs", [r["predict_s"]])}
    res["gain"] = round(res["dedup off"]["predict_s"] / res["dedup on"]["predict_s"], 3)
    table("Deduplication of repeated texts within a part of 5,000 rows (three DGCL years, 2 processes, CSV, median)",
          ["", "predict s", "words/s", "all runs s"],
          [[k, res[k]["predict_s"], res[k]["words_per_s"], " ".join(f"{x:.1f}" for x in res[k]["predict_s_runs"])]
           for k in ("dedup on", "dedup off")])
    print(f"  {res['rows']:,} rows: {res['distinct_texts']:,} distinct texts, {res['distinct_normalised']:,} after "
          f"normalisation, {res['distinct_lemma_strings']:,} distinct lemma strings; speed-up x{res['gain']}")
    return res


def f1_section(ctx) -> dict:
    """Grouped 5-fold CV on dgcl/annotated of the same classifier over each preprocessing variant.

    Each fold trains on the whole seed set plus the other annotated folds and
    is scored on its annotated fold; the lookup table is learned from the
    training side of each fold only, as in `make train` then `make predict`.
    """
    from sklearn.base import clone
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    from pipeline.modeling import estimators
    from pipeline.modeling.cv import duplicate_groups

    ann = pd.read_csv(ctx.data / "dgcl" / "annotated.csv", dtype=str, keep_default_na=False)
    ann = ann[ann["domain"] != "none"].reset_index(drop=True)
    seed = pd.read_csv(PROJECT / "data" / "labeled" / "seed.csv", dtype=str, keep_default_na=False)
    X, y = ann["intitule"].tolist(), ann["domain"].to_numpy()
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=42).split(X, y, duplicate_groups(ann["intitule"])))
    os.environ[CACHE_ENV] = str(ctx.tmp / "cache-f1")
    all_texts = seed["text"].tolist() + X
    tagger = SpacyLemmatizer(mode="tagger").fit(all_texts)
    tagger_lemmas = dict(zip(all_texts, tagger.transform(all_texts)))
    # How often does a form's lemma depend on its context (the tag)? The lookup table keeps the most frequent.
    lemmas_of, occurrences = {}, {}
    for pairs in tagger._tag(list(dict.fromkeys(normalize(t) for t in all_texts))):
        for form, lemma in pairs:
            lemmas_of.setdefault(form, set()).add(lemma)
            occurrences[form] = occurrences.get(form, 0) + 1
    ambiguous = [f for f, ls in lemmas_of.items() if len(ls) > 1]
    ambiguity = {"forms": len(lemmas_of), "ambiguous_forms": len(ambiguous),
                 "token_share_of_ambiguous_forms": round(sum(occurrences[f] for f in ambiguous)
                                                         / max(sum(occurrences.values()), 1), 4),
                 "examples": {f: sorted(lemmas_of[f]) for f in sorted(ambiguous, key=occurrences.get)[-8:]}}
    res = {"rows": len(ann), "seed_rows": len(seed), "train_side": "seed set + the 4 other annotated folds",
           "classifiers": ctx.f1_classifiers, "lemma_ambiguity": ambiguity, "variants": {}}
    for clf_name in ctx.f1_classifiers:
        # The recipe's plain SVM: its choice is the shipped classifier's (temperature scaling keeps the argmax).
        est = estimators.teacher(estimators.RECIPES[clf_name], 42)
        for variant in ("tagger", "lookup", "raw normalised"):
            pred = np.empty(len(y), dtype=object)
            for train_idx, test_idx in folds:
                train_texts = seed["text"].tolist() + [X[i] for i in train_idx]
                test_texts = [X[i] for i in test_idx]
                if variant == "tagger":
                    prep = lambda ts: [tagger_lemmas[t] for t in ts]  # noqa: E731
                elif variant == "lookup":
                    lem = SpacyLemmatizer().fit(train_texts)
                    prep = lem.transform
                else:
                    prep = lambda ts: [normalize(t) for t in ts]  # noqa: E731
                y_train = np.concatenate([seed["domain"].to_numpy(), y[train_idx]])
                model = clone(est).fit(prep(train_texts), y_train)
                pred[test_idx] = model.predict(prep(test_texts))
            present = sorted(set(y))
            res["variants"][f"{clf_name} / {variant}"] = {
                "macro_f1": round(float(f1_score(y, pred, labels=present, average="macro", zero_division=0)), 4),
                "accuracy": round(float((pred == y).mean()), 4)}
    os.environ[CACHE_ENV] = "off"
    table(f"Macro-F1 on dgcl/annotated ({len(ann)} rows), grouped 5-fold CV, trained on seed + 4 annotated folds",
          ["classifier / preprocessing", "macro-F1", "accuracy"],
          [[k, v["macro_f1"], v["accuracy"]] for k, v in res["variants"].items()])
    print(f"  tagger lemmas over seed + annotated: {ambiguity['ambiguous_forms']:,} of {ambiguity['forms']:,} forms "
          f"have more than one lemma, {ambiguity['token_share_of_ambiguous_forms']:.1%} of tokens; "
          f"e.g. {ambiguity['examples']}")
    return res
