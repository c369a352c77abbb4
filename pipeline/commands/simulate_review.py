"""`python -m pipeline simulate-review`: the review loop measured on the hand-labeled DGCL titles.

Reads dgcl/annotated.csv and dgcl/annotated-random.csv under --extra (rows
labeled `none` left out), runs pipeline.review.simulate and writes into
reports/review-simulation/: curves.csv (one row per round), year_lists.csv,
summary.json and learning_curves.png. spaCy runs once, over the seed set and
every real title; each round refits only the classifier.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import GroupShuffleSplit

from pipeline.domains import NONE_LABEL, load_label_set
from pipeline.errors import PipelineError
from pipeline.io.files import write_json
from pipeline.io.sources import load_training_data
from pipeline.io.tables import atomic_folder, check_writable, read_table
from pipeline.modeling import estimators
from pipeline.modeling.cv import duplicate_key
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import preprocess_texts
from pipeline.review.simulate import LoopData, Strategy, learning_curve, rows_to_reach

log = logging.getLogger(__name__)

SETS = {"annotated": "dgcl/annotated.csv", "random": "dgcl/annotated-random.csv"}
# margin_spread50 is `make review`'s default ([review] max_domain_share = 0.5).
STRATEGIES = [Strategy("margin"), Strategy("margin_spread50", max_share=0.5), Strategy("margin_spread", max_share=0.25),
              Strategy("random", kind="random")]
RANDOM_STATE = 42


def fit_svm(X, y, w):
    """The fresh clone's recipe (svm_balanced, temperature-scaled), refit on lemma strings."""
    model = estimators.domain_classifier(estimators.RECIPES["svm_balanced"], RANDOM_STATE)
    return model.fit(X, y, clf__sample_weight=w)


def read_real_titles(extra: Path, codes) -> pd.DataFrame:
    frames = []
    for name, rel in SETS.items():
        raw = read_table(extra / rel)
        for col in ("intitule", "domain", "year"):
            if col not in raw.columns:
                raise PipelineError(f"{extra / rel}: no column {col!r}")
        frames.append(pd.DataFrame({"text": raw["intitule"].astype(str).str.strip(), "domain": raw["domain"],
                                    "year": raw["year"].astype(str), "set": name}))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[(frame["domain"] != NONE_LABEL) & (frame["text"] != "")].reset_index(drop=True)
    unknown = sorted(set(frame["domain"]) - set(codes))
    if unknown:
        raise PipelineError(f"{extra}/dgcl: labels outside the taxonomy: {', '.join(unknown)}")
    return frame


def run_simulation(config: dict, extra: str, output: str | None = None, splits: int = 3, random_draws: int = 2,
                   weights=(1.0, 2.0, 3.0), n_jobs: int = 2) -> Path:
    # Checked before spaCy's pass: --splits 0 ended in a KeyError, --jobs 0 in joblib's ValueError, minutes in.
    if splits < 1:
        raise PipelineError(f"--splits {splits}: give a number of pool/test splits of at least 1")
    if n_jobs < 1:
        raise PipelineError(f"--jobs {n_jobs}: give a number of processes of at least 1")
    extra = Path(extra)
    paths = config["paths"]
    folder = Path(output) if output else Path(paths["reports"]) / "review-simulation"
    check_writable(folder)  # now, not after the minutes of learning curves
    labels = load_label_set(paths["labels"])
    order = list(labels.codes)
    seed, _ = load_training_data(paths["labeled"], labels)
    real = read_real_titles(extra, labels.codes)
    settings = TrainSettings.from_config(config)
    texts = seed["text"].tolist() + real["text"].tolist()
    _, lemmas, _ = preprocess_texts(texts, None, settings)
    seed_X, real_X = lemmas[:len(seed)], np.asarray(lemmas[len(seed):], dtype=object)
    seed_y, real_y = seed["domain"].to_numpy(), real["domain"].to_numpy()
    keys = real["text"].map(duplicate_key).to_numpy()
    log.info("simulation: %d seed rows, %d real titles (%s)", len(seed), len(real),
             real["set"].value_counts().to_dict())

    jobs = []
    for split in range(splits):
        pool, test = next(GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=split)
                          .split(real_X, real_y, keys))
        data = LoopData(seed_X, seed_y, list(real_X[pool]), real_y[pool], keys[pool], list(real_X[test]), real_y[test])
        for strategy in STRATEGIES:
            draws = range(random_draws) if strategy.kind == "random" else [0]
            for w in weights if strategy.name == "margin" else weights[:1]:
                jobs += [(("curve", split), data, strategy, 50, 400, w, 100 * split + d) for d in draws]
    for year in sorted(real.loc[real["set"] == "random", "year"].unique()):
        rows = np.flatnonzero(((real["set"] == "random") & (real["year"] == year)).to_numpy())
        data = LoopData(seed_X, seed_y, list(real_X[rows]), real_y[rows], keys[rows])
        for strategy in STRATEGIES:
            draws = range(5) if strategy.kind == "random" else [0]
            jobs += [(("year", year), data, strategy, 100, 100, weights[0], d) for d in draws]
    log.info("simulation: %d learning curves on %d process(es)", len(jobs), n_jobs)
    results = Parallel(n_jobs=n_jobs)(delayed(_run)(tag, data, s, order, b, m, w, d)
                                      for tag, data, s, b, m, w, d in jobs)
    curves = pd.DataFrame([r for tag, rows in results if tag[0] == "curve" for r in rows])
    years = pd.DataFrame([r for tag, rows in results if tag[0] == "year" for r in rows])
    design = {"splits": splits, "test_share": 0.3, "random_draws": random_draws, "margin_weights": list(weights),
              "curves": len(jobs)}
    summary = summarize(curves, years, len(seed), real, design)
    with atomic_folder(folder) as tmp:
        curves.to_csv(tmp / "curves.csv", index=False)
        years.to_csv(tmp / "year_lists.csv", index=False)
        write_json(tmp / "summary.json", summary)
        chart(curves, tmp / "learning_curves.png")
    log.info("review simulation written to %s", folder)
    return folder


def _run(tag, data, strategy, order, batch, max_reviewed, weight, seed):
    rows = learning_curve(data, fit_svm, strategy, order, batch, max_reviewed, weight, seed)
    for r in rows:
        r["split_or_year"] = tag[1]
    return tag, rows


def mean_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's scores averaged over splits and draws, per number of reviewed rows."""
    numbers = [c for c in curves.columns if c.endswith(("_accuracy", "_macro_f1"))]
    return curves.groupby(["strategy", "weight", "reviewed"])[numbers].mean().round(4).reset_index()


def summarize(curves: pd.DataFrame, years: pd.DataFrame, n_seed: int, real: pd.DataFrame,
              design: dict | None = None) -> dict:
    """summary.json: the run's design (how many splits and draws the means are over), the mean curves,
    what each strategy needs to reach random review's 400 rows, the year lists'."""
    mean = mean_curves(curves)
    w1 = mean[mean["weight"] == mean["weight"].min()]
    random_400 = w1[(w1["strategy"] == "random") & (w1["reviewed"] == 400)]
    out = {"design": design or {}, "seed_rows": n_seed, "real_titles": int(len(real)),
           "mean_curves": mean.to_dict(orient="records")}
    for metric in ("test_accuracy", "test_macro_f1", "list_accuracy"):
        target = float(random_400[metric].iloc[0]) if len(random_400) else float("nan")
        out[f"random_at_400_{metric}"] = target
        out[f"rows_to_reach_random_400_{metric}"] = {
            s: rows_to_reach(dict(zip(g["reviewed"], g[metric])), target) for s, g in w1.groupby("strategy")}
    if len(years):
        ymean = years.groupby(["strategy", "reviewed"])[
            ["list_accuracy", "unreviewed_accuracy", "unreviewed_first_model_accuracy"]].mean().round(4)
        out["year_lists"] = ymean.reset_index().to_dict(orient="records")
        out["year_lists_by_year"] = (years.groupby(["split_or_year", "strategy", "reviewed"])
                                     [["list_accuracy", "unreviewed_accuracy", "unreviewed_first_model_accuracy",
                                       "list_n"]].mean().round(4).reset_index().to_dict(orient="records"))
    return out


def chart(curves: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Unreviewed rows: the retrained model against the first one on the same rows (the
    # uncertain rows leave the pool, so their raw accuracy rises by selection alone).
    curves = curves.assign(unreviewed_gain_accuracy=curves["unreviewed_accuracy"]
                           - curves["unreviewed_first_model_accuracy"])
    mean = mean_curves(curves)
    panels = [("list_accuracy", "the list's labels (pool), accuracy"), ("test_accuracy", "test part, accuracy"),
              ("test_macro_f1", "test part, macro-F1"),
              ("unreviewed_gain_accuracy", "unreviewed pool rows: retrained minus first model")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), sharex=True)
    for ax, (metric, title) in zip(axes, panels):
        for (strategy, weight), g in mean.groupby(["strategy", "weight"]):
            ax.plot(g["reviewed"], g[metric], marker="o", ms=3, label=f"{strategy} (weight {weight:g})")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("rows reviewed")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
