"""`python -m pipeline evaluate`: the shell around pipeline.evaluation.

Without --labeled: every labeled source (the seed set, plus the sets of
sources.toml under --extra) scored within and across sources, beside the
baselines, into reports/evaluation/sources/. With --labeled: the current model
scored on a hand-labeled file the user brings, into reports/evaluation/labeled-<file>/, which an
earlier evaluation of a file of that name holds: replaced only with --force, as `report` replaces
a report (and never when the folder holds files an evaluation does not write).
Without --labeled, the latest trained model is also scored on the written evaluation
sets (paths.eval_sets, data/eval/*.csv) per split, beside the sources.
Each writes (and atomically replaces) only its own folder, never a sibling's.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.io.files import read_metrics, write_json
from pipeline.io.sources import SourceSpec, labeled_rows, load_training_data
from pipeline.io.tables import atomic_folder, check_writable, find_text_columns, read_table
from pipeline.io.write import check_replaceable, csv_cells
from pipeline.modeling import estimators
from pipeline.modeling.eval_sets import check_splits, eval_sets_markdown, split_scores
from pipeline.modeling.evaluate import SETTINGS, evaluate_sources, summary_table
from pipeline.modeling.metrics import by_certainty, digital_f1_yes, intervals, scores
from pipeline.modeling.predict import label_frame, texts_of
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import preprocess_texts

log = logging.getLogger(__name__)


def default_recipe(config: dict) -> str:
    """The recipe the latest trained model chose, else "svm"."""
    from pipeline.modeling.run_folder import resolve_run

    try:
        return read_metrics(resolve_run(config["paths"]["models"]))["chosen"]
    except (PipelineError, KeyError):
        return "svm"


def run_evaluate(config: dict, extra: str | None, recipe_name: str | None = None) -> Path:
    from pipeline.commands.train import self_training_pool

    recipe_name = recipe_name or default_recipe(config)
    log.info("evaluating recipe %s", recipe_name)
    paths = config["paths"]
    labels = load_label_set(paths["labels"])
    settings = TrainSettings.from_config(config)
    if recipe_name not in estimators.RECIPES:
        raise PipelineError(f"unknown recipe {recipe_name!r}; known: {', '.join(estimators.RECIPES)}")
    folder = Path(paths["reports"]) / "evaluation" / "sources"
    check_writable(folder)  # now, not after the minutes of evaluation
    frame, _ = load_training_data(paths["labeled"], labels, extra, paths["sources"])
    unlabeled_texts, _ = self_training_pool(config, extra, [recipe_name])
    _, lemmas, unlabeled = preprocess_texts(frame["text"].tolist(), unlabeled_texts, settings)
    order = [c for c in labels.codes if c in set(frame["domain"])]
    result = evaluate_sources(frame, lemmas, unlabeled, settings.recipe(recipe_name), settings, order)
    result["extra"] = str(extra) if extra else None
    result["eval_sets"] = score_eval_sets(config)
    with atomic_folder(folder) as tmp:
        write_json(tmp / "evaluation.json", result)
        table = summary_table(result)
        table.to_csv(tmp / "scores.csv", index=False)
        per_class = pd.DataFrame([{"source": s, "domain": d, **v} for s, r in result["sources"].items()
                                  for d, v in r["within"]["per_class"].items()])
        per_class.to_csv(tmp / "per_class.csv", index=False)
        for source, r in result["sources"].items():
            cm = pd.DataFrame(r["confusion_matrix"], index=order, columns=order)
            cm.to_csv(tmp / f"confusion_{source.replace(':', '_')}.csv", index_label="annotated \\ predicted")
        pd.DataFrame([{"source": s, **c} for s, r in result["sources"].items() for c in r["review"]["curve"]]
                     ).to_csv(tmp / "coverage_accuracy.csv", index=False)
        coverage_png(result, tmp / "coverage_accuracy.png")
        (tmp / "SUMMARY.md").write_text(summary_markdown(result, table), encoding="utf-8")
    log.info("evaluation written to %s", folder)
    return folder


def summary_markdown(result: dict, table: pd.DataFrame) -> str:
    wide = table.pivot(index="source", columns="setting", values="macro_f1")
    acc = table.pivot(index="source", columns="setting", values="accuracy")
    settings = [c for c in SETTINGS if c in wide.columns]
    lines = ["# Evaluation across sources", "",
             f"Recipe `{result['recipe']['name']}`; grouped, stratified CV (near-duplicate titles stay in one fold).",
             "`within`: the source's rows out of fold, everything else in training; `within_digital`: the same, "
             "its rows labeled digital = yes (digital-service initiatives); `within_restricted`: the same, "
             "the prediction taken among the domains the source's own labels can name; `cross`: trained on the other "
             "sources only; `previous_default`: all sources weighted 1, balanced classes, no self-training; "
             "`*_alone`: trained on the source alone."
               + (" With this recipe each row is predicted with its own text kind's weights (`text_kind` in "
                  "config/sources.toml): " + ", ".join(f"{s} {k}" for s, k in result["text_kinds"].items())
                  + "; `within_as_submission`: the same rows predicted as submissions, what predict gives "
                  "without --kind."
                  if result["recipe"].get("by_kind") else ""), "",
             "| source | n | " + " | ".join(f"{s} F1 / acc" for s in settings) + " | acc. at 80 % coverage |",
             "|---|---|" + "---|" * len(settings) + "---|"]
    for source in wide.index:
        r = result["sources"][source]
        cells = [f"{wide.loc[source, s]:.3f} / {acc.loc[source, s]:.3f}" if pd.notna(wide.loc[source, s]) else ""
                 for s in settings]
        cov = r.get("accuracy_at_80pct_coverage")
        lines.append(f"| {source} | {r['within']['n']} | " + " | ".join(cells) + f" | {cov if cov is not None else ''} |")
    d = result["digital"]
    if d.get("trained"):
        lines += ["", f"Digital flag, grouped CV: F1(yes) {d['f1_yes']:.3f} on {d['n']} rows; by source: "
                  + ", ".join(f"{s} {v['f1_yes']:.3f} ({v['n']})" for s, v in d["by_source"].items()) + "."]
    lines += ["", "Files: scores.csv, per_class.csv, confusion_<source>.csv, coverage_accuracy.csv/.png, "
              "evaluation.json.", ""]
    return "\n".join(lines + eval_sets_markdown(result.get("eval_sets")))


def coverage_png(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    for source, r in result["sources"].items():
        curve = r["review"]["curve"]
        ax.plot([c["coverage"] for c in curve], [c["accuracy"] for c in curve], marker=".", label=source)
    ax.axvline(0.8, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("Couverture (part des lignes gardées, les plus sûres d'abord)")
    ax.set_ylabel("Exactitude des lignes gardées")
    ax.set_title("Couverture et exactitude selon le seuil de confiance (validation croisée)")
    ax.set_xlim(0, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def score_eval_sets(config: dict) -> dict | None:
    """The latest model's scores on every paths.eval_sets/*.csv, per split; None without sets or model."""
    from pipeline.modeling.run_folder import LATEST, load_model

    if not config["paths"].get("eval_sets"):  # Path("") would be the working directory
        return None
    folder = Path(config["paths"]["eval_sets"])
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return None
    if not (Path(config["paths"]["models"]) / LATEST).is_file():
        log.warning("no trained model: the evaluation sets of %s are not scored", folder)
        return None
    labels = load_label_set(config["paths"]["labels"])
    model = load_model(config["paths"]["models"])
    result = {"model_run_id": model.run_id, "folder": str(folder), "sets": {}}
    for path in files:
        raw = read_table(path)
        if "split" not in raw.columns:
            raise PipelineError(f"{path}: no column 'split' (dev/test; data/eval/README.md)")
        split = raw["split"].fillna("").astype(str).str.strip()
        check_splits(split, path)
        # The split as each row's id: it comes back with the rows labeled_rows keeps.
        spec = SourceSpec(name="split", path=path.name, text_column="text", label_column="domain",
                          digital_column="digital" if "digital" in raw.columns else None, id_column="split")
        truth, predicted, order, _, _ = labeled_predictions(model, raw.assign(split=split), spec, labels, path)
        truth["split"] = truth["row_id"].str.removeprefix("split:")
        result["sets"][path.stem] = split_scores(truth, predicted, order)
        log.info("%s: %s", path.name, ", ".join(f"{k} accuracy {v['accuracy']:.3f} (n={v['n']})"
                                                for k, v in result["sets"][path.stem].items()))
    return result


def labeled_predictions(model, raw: pd.DataFrame, spec: SourceSpec, labels, path: Path):
    """The labeled rows of `raw` (as training reads them), the model's predictions on them, the
    domains present in the taxonomy's order, and the counts of rows left out (none) and empty."""
    truth, left_out, empty = labeled_rows(raw, spec, labels, path)
    predicted = label_frame(model, truth[["text"]], ["text"])
    order = [c for c in labels.codes if c in set(truth["domain"])]
    return truth, predicted, order, left_out, empty


LABELED_FILES = {"scores.json", "predictions.csv"}  # what an evaluation on a labeled file writes in its folder


def run_evaluate_labeled(config: dict, labeled: str, text_col: str | None, label_col: str,
                         digital_col: str | None, run: str | None, sure_col: str | None = None,
                         force: bool = False) -> Path:
    """Score the current model on a hand-labeled file (any format predict reads); with `sure_col`
    (yes/no: was the annotator sure?), also on the rows they were sure of and on the others. An earlier
    evaluation of a file of that name is replaced only with `force`."""
    from pipeline.modeling.run_folder import load_model

    labels = load_label_set(config["paths"]["labels"])
    path = Path(labeled)
    folder = Path(config["paths"]["reports"]) / "evaluation" / f"labeled-{path.stem}"
    check_replaceable(folder, force, LABELED_FILES, "an evaluation", "give --force (make: FORCE=yes) to replace it")
    check_writable(folder)
    raw = read_table(path)
    text_cols = find_text_columns(raw.columns, text_col, config["predict"]["text_columns"], path)
    spec = SourceSpec(name=path.stem, path=path.name, text_column=text_cols[0], label_column=label_col,
                      digital_column=digital_col, sure_column=sure_col)
    model = load_model(config["paths"]["models"], run)
    # The text predict would classify (several columns joined as texts_of joins them).
    truth, predicted, order, left_out, empty = labeled_predictions(
        model, raw.assign(**{text_cols[0]: texts_of(raw, text_cols)}), spec, labels, path)
    result = {"file": str(path), "model_run_id": model.run_id, "rows_scored": int(len(truth)),
              "left_out_none": left_out, "empty_text": empty,
              "domain": {**scores(truth["domain"].to_numpy(), predicted["domain"].to_numpy(), order),
                         "interval": intervals(truth["domain"].to_numpy(), [predicted["domain"].to_numpy()], order)}}
    if digital_col:
        result["digital_f1_yes"] = digital_f1_yes(truth["digital"], predicted["digital"])
    if sure_col:
        result["by_certainty"] = by_certainty(truth, predicted["domain"], order).get(spec.name, {})
    with atomic_folder(folder) as tmp:
        write_json(tmp / "scores.json", result)
        csv_cells(pd.concat([truth[["text", "domain"]].rename(columns={"domain": "annotated"}),
                             predicted[["domain", "confidence", "needs_review"]]], axis=1)
                  ).to_csv(tmp / "predictions.csv", index=False)  # the texts: formula cells neutralised
    d = result["domain"]
    log.info("model %s on %s: macro-F1 %.3f (95 %% interval %.3f–%.3f), accuracy %.3f (%.3f–%.3f) over %d rows",
             model.run_id, path, d["macro_f1"], *d["interval"]["macro_f1"], d["accuracy"], *d["interval"]["accuracy"],
             d["n"])
    print(json.dumps({k: v for k, v in result.items() if k != "domain"}
                     | {k: d[k] for k in ("macro_f1", "accuracy", "interval")}, ensure_ascii=False))
    return folder
