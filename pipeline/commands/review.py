"""`python -m pipeline review`: the rows of a predictions file most worth a reviewer's time, as a workbook."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.io.files import sha256_of
from pipeline.io.formulas import refuse_unholdable
from pipeline.io.predictions import earlier_predictions, read_predictions_file
from pipeline.io.reviewed import answered_titles, review_files
from pipeline.io.rows import row_in_file
from pipeline.io.tables import find_text_columns
from pipeline.modeling.cv import duplicate_key
from pipeline.modeling.predict import output_columns, texts_of
from pipeline.review.select import margins, select_for_review
from pipeline.review.workbook import MODEL_COLUMNS, check_workbook_path, load_guide, review_table, write_workbook

log = logging.getLogger(__name__)


def prediction_columns(columns, codes, path) -> list[str]:
    """The input's own columns of a predictions file (see io/predictions.py for its layout).
    A file without every domain's proba_ column is refused."""
    columns = [str(c) for c in columns]
    predicted = output_columns(codes)
    missing = [c for c in predicted if c not in columns and c != "model_run_id"]
    if missing:
        probas = [c for c in columns if c.startswith("proba_")]
        other = f" (it has {', '.join(probas)}: another label set than config/domains.csv)" if probas else ""
        raise PipelineError(f"{path}: no column {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}: "
                            f"give the output of `make predict`{other}")
    return [c for c in columns if c not in set(predicted) and c not in earlier_predictions(columns)]


def writable(frame: pd.DataFrame, chosen, columns: list[str], path: Path) -> None:
    """The reviewer must read the text: a control character, which the workbook cannot hold, or a text longer
    than an Excel cell holds is refused (the first in the file, named by its row there) rather than dropped
    or cut."""
    in_file, present = np.sort(chosen), [c for c in columns if c in frame]

    def place(i):
        return f"{path}, {row_in_file(frame, in_file[i] if i >= 0 else -1)}"

    refuse_unholdable(frame.iloc[in_file], place, columns=present)


def run_review(config: dict, predictions: str | Path, output: str | Path, rows: int | None = None,
               text_col: str | None = None) -> Path:
    predictions, output = Path(predictions), check_workbook_path(output)
    if output.resolve() == predictions.resolve():
        raise PipelineError(f"{output}: the workbook would overwrite the predictions; choose another OUTPUT")
    paths, review = config["paths"], config.get("review", {})
    labels = load_label_set(paths["labels"])
    n = rows if rows is not None else int(review.get("rows", 200))
    if n < 1:
        raise PipelineError(f"N={n}: give a number of rows to review of at least 1")
    frame = read_predictions_file(predictions)
    inputs = prediction_columns(frame.columns, labels.codes, predictions)
    text = texts_of(frame, find_text_columns(inputs, text_col, list(config["predict"]["text_columns"]), predictions))
    proba = frame[[f"proba_{c}" for c in labels.codes]].to_numpy(float)  # numbers: read_predictions_file
    domain = frame["domain"].fillna("").astype(str)
    keys = text.map(duplicate_key)
    # A title an analyst already answered (data/reviewed/) is not asked again: the next workbook of the same
    # predictions is the next batch, not the same rows.
    answered = keys.isin(answered_titles(review_files(paths.get("reviewed")), labels)).to_numpy()
    if answered.any():
        log.info("%d row(s) of %d title(s) already answered in %s left out", answered.sum(),
                 keys[answered].nunique(), paths.get("reviewed"))
    eligible = (text != "").to_numpy() & (domain != "").to_numpy() & ~answered
    chosen = select_for_review(proba, domain.to_numpy(), keys.to_numpy(), n, review.get("max_domain_share"), eligible)
    if len(chosen) == 0:
        raise PipelineError(f"{predictions}: no row with a text and a predicted domain to review"
                            + (f" that {paths.get('reviewed')} does not already answer" if answered.any() else ""))
    picked = frame.iloc[chosen]
    writable(frame, chosen, [*inputs, *MODEL_COLUMNS, "model_run_id"], predictions)
    model = pd.DataFrame({c: picked[c].to_numpy() if c in picked else "" for c in MODEL_COLUMNS
                          if c != "text"})
    model.insert(0, "text", text.iloc[chosen].to_numpy())
    run_ids = frame["model_run_id"].astype(str).unique() if "model_run_id" in frame else [""]
    table = review_table(picked[inputs], model, chosen + 1, ",".join(run_ids))
    write_workbook(output, table, labels, load_guide(paths["domain_guide"]), {
        "kind": "review", "model_run_id": ",".join(run_ids), "predictions": predictions.name,
        "predictions_sha256": sha256_of(predictions), "rows": len(chosen)})
    spread = pd.Series(domain.to_numpy()[chosen]).value_counts()
    margin = margins(proba[chosen])
    log.info("%d rows of %d to review (margins %.2f to %.2f), by predicted domain: %s", len(chosen), len(frame),
             margin.min(), margin.max(), ", ".join(f"{d} {k}" for d, k in spread.items()))
    return output
