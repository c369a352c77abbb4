"""`python -m pipeline predict`: label a file of submissions in chunks, written atomically."""
from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from pipeline import interrupt
from pipeline.errors import PipelineError
from pipeline.io.sources import SUBMISSION_KIND
from pipeline.io.tables import TableWriter, atomic_output, count_rows, find_text_columns, iter_table
from pipeline.modeling.estimators import set_text_kind
from pipeline.modeling.metrics import review_threshold_warning
from pipeline.modeling.model import BarometerModel
from pipeline.modeling.predict import applied_review_threshold, texts_of, with_predictions
from pipeline.modeling.run_folder import load_model, resolve_run
from pipeline.modeling.workers import PART_ROWS, ParallelPredictor, predict_jobs, process_count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictSettings:
    """How `predict` labels: config/pipeline.toml's [predict], overridden by command-line options."""

    # Below this probability of the chosen domain a row is flagged needs_review;
    # None: the threshold the model chose at training.
    review_threshold: float | None = None
    text_kind: str = SUBMISSION_KIND
    chunk_size: int = 20000
    # Processes in all (0 = one per core); beyond this one they label parts of the chunks.
    n_jobs: int = 0
    # Looked for, in order, when no text column is given.
    text_columns: tuple[str, ...] = ("text",)

    @classmethod
    def from_config(cls, config: dict, n_jobs: int | None = None, text_kind: str | None = None) -> "PredictSettings":
        p = config["predict"]
        threshold = None if p["review_threshold"] == "model" else probability(p["review_threshold"])
        return cls(review_threshold=threshold, text_kind=text_kind or p.get("text_kind", SUBMISSION_KIND),
                   chunk_size=p["chunk_size"], n_jobs=p.get("n_jobs", 0) if n_jobs is None else n_jobs,
                   text_columns=tuple(p["text_columns"]))


def probability(value) -> float:
    """A review threshold the user gave, checked: needs_review compares it with a probability."""
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = float("nan")
    if not 0 <= threshold <= 1:  # NaN too
        raise PipelineError(f"review threshold {value!r} (--threshold, or [predict] review_threshold): give a "
                            f"number from 0 to 1, or \"model\" in the config for the model's own")
    return threshold


def run_predict(config: dict, input_path: str | Path, output_path: str | Path, text_col: str | None = None,
                run: str | None = None, sep: str | None = None, encoding: str | None = None,
                n_jobs: int | None = None, text_kind: str | None = None, engine: str = "local",
                scheduler: str | None = None, workers: int | None = None) -> Path:
    """Label a file of submissions with the model `run` (default: the latest); see `label_file`.

    engine "dask": on a Dask cluster (`scheduler`, else `workers` local processes), see engines/dask_engine.py.
    """
    settings = PredictSettings.from_config(config, n_jobs=n_jobs, text_kind=text_kind)
    if workers is not None and workers < 0:  # a LocalCluster of no worker would wait forever
        raise PipelineError(f"--workers {workers}: give a number of worker processes "
                            f"(0 or none: as many as --jobs, one per core by default)")
    if engine == "dask":
        if scheduler and workers:  # a running cluster has the workers it was started with
            log.warning("--workers %d ignored: the cluster at --scheduler %s runs its own workers", workers, scheduler)
        try:
            from pipeline.engines.dask_engine import label_with_dask
        except ModuleNotFoundError as exc:
            raise PipelineError(f"--engine dask needs the dask extra ({exc}): pip install '.[dask]', "
                                f"or make predict ENGINE=dask") from None

        return label_with_dask(resolve_run(config["paths"]["models"], run), input_path, output_path, settings,
                               text_col, sep, encoding, scheduler, workers or process_count(settings.n_jobs))
    if scheduler or workers:
        raise PipelineError("--scheduler and --workers go with --engine dask")
    model = load_model(config["paths"]["models"], run)
    return label_file(model, input_path, output_path, settings, text_col, sep, encoding)


def label_file(model: BarometerModel, input_path: str | Path, output_path: str | Path, settings: PredictSettings,
               text_col: str | None = None, sep: str | None = None, encoding: str | None = None,
               dedup: bool = True) -> Path:
    """Label a file in chunks; write every input column, then the predictions.

    Beyond this process, which reads and writes, `settings.n_jobs` processes
    label parts of the chunks. `dedup`: classify the repeated texts of a part
    once (False only to measure what that saves).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.resolve() == input_path.resolve():
        raise PipelineError(f"{output_path}: the output would overwrite the input; choose another OUTPUT")
    kind = TableWriter.kind_of(output_path)
    use_text_kind(model, settings.text_kind)
    total = count_rows(input_path)
    jobs = predict_jobs(settings.n_jobs, total)
    rows = flagged = 0
    state: dict = {}

    # With worker processes, chunks go to them in parts, so that reading, labeling and writing overlap.
    part_rows = settings.chunk_size if jobs == 1 else min(settings.chunk_size, PART_ROWS)

    def chunks():
        for chunk in iter_table(input_path, settings.chunk_size, sep=sep, encoding=encoding):
            if "columns" not in state:
                state["columns"] = find_text_columns(chunk.columns, text_col, list(settings.text_columns),
                                                     input_path)
                log.info("labeling %s, text from column(s) %s, model %s, %d process(es)", input_path,
                         state["columns"], model.run_id, jobs)
            texts = texts_of(chunk, state["columns"])
            for i in range(0, len(chunk), part_rows):
                part = texts.iloc[i:i + part_rows]
                yield (chunk.iloc[i:i + part_rows], part), part.tolist()

    # SIGTERM (kill, a scheduler stopping the job) stops the run as Ctrl-C does: the temporary output removed.
    with interrupt.stop_on(signal.SIGTERM), atomic_output(output_path) as tmp:
        with TableWriter(tmp, kind) as writer, ParallelPredictor(model, jobs, dedup) as predictor, \
                tqdm(total=total, unit="rows", desc="labeling", disable=None) as bar:
            for (chunk, texts), scores in predictor.map(chunks()):
                labeled = with_predictions(model, chunk, texts, scores, settings.review_threshold, warn=not rows)
                writer.write(labeled)
                rows += len(chunk)
                flagged += int(labeled["needs_review"].sum())
                bar.update(len(chunk))
            # The total was counted from a CSV's lines: a quoted cell spanning lines made it larger than the rows,
            # and the bar stopped at 98 % of a finished run. It ends at the rows labeled.
            bar.total = rows
            bar.refresh()
        if "columns" not in state:
            raise PipelineError(f"{input_path}: the file has a header but no rows")
    threshold = applied_review_threshold(model, settings.review_threshold)
    log_labeled(rows, output_path, flagged, threshold)
    if warning := review_threshold_warning(threshold, settings.review_threshold is not None):
        log.warning(warning)
    return output_path


def log_labeled(rows: int, output_path, flagged: int, threshold: float) -> None:
    """The last line of a run, the same for every engine."""
    log.info("%d rows labeled into %s; %d flagged needs_review (confidence below %.2f, or no text)", rows,
             output_path, flagged, threshold)


def use_text_kind(model: BarometerModel, kind: str) -> None:
    try:
        set_text_kind(model.domain_classifier, kind)
    except ValueError as exc:
        raise PipelineError(f"--kind: {exc}") from None
    if kind != SUBMISSION_KIND:
        log.info("predicting as texts of kind %s", kind)


def default_output(config: dict, input_path: str | Path) -> Path:
    return Path(config["paths"]["predicted"]) / f"{Path(input_path).stem}.predictions.csv"
