"""Command line: `python -m pipeline train|predict|report ...` (also installed as `barometre`).

A thin shell: it reads options, calls pipeline.commands, and turns every
error into one plain line on stderr: a PipelineError or a file the system
refuses (exit code 2); an unexpected failure (exit code 1) with a pointer to
a log file holding its traceback (--debug shows it here instead).
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from pipeline import interrupt
from pipeline.config import load_config
from pipeline.errors import PipelineError, WorkerDied
from pipeline.modes import check_modes

CV_FOLDS_HELP = "folds of the grouped cross-validation, at least 2 (default [train] cv_folds of the config)"
EXCEL_FR_HELP = "CSV outputs in French Excel's dialect: ';' between fields, decimal comma, UTF-8 with a BOM"


class StoreOnce(argparse._StoreAction):
    """An option taking a value may be given once: argparse keeps the last of two silently, so that
    `--predictions a --predictions b` reported b alone and `--input a --input b` labeled b alone."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_values_given", {})
        if self.dest in given:
            parser.error(f"{option_string} given twice ({given[self.dest]!r}, then {values!r}): give it once"
                         + (", followed by all its values" if self.nargs in ("+", "*") else ""))
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose options taking a value refuse to be given twice (StoreOnce)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="barometre", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config file (default: config/pipeline.toml)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train on data/labeled (and --extra sources), write models/<run>/")
    t.add_argument("--extra", help="folder holding the outside labeled sets listed in config/sources.toml")
    t.add_argument("--sources", help="sources file, with --extra (default: config/sources.toml)")
    t.add_argument("--cv-folds", type=int, help=CV_FOLDS_HELP)
    t.add_argument("--models", help="models folder")
    t.add_argument("--reviewed", nargs="+", metavar="PATH", help="review workbooks (files or folders) read besides "
                                                                 "data/reviewed/*.xlsx")

    p = sub.add_parser("predict", help="label a CSV/Excel/Parquet file of submissions")
    p.add_argument("--input", help="file to label (default: the sample in data/raw/)")
    p.add_argument("--output", help="CSV, TSV, Parquet or Excel (.xlsx) output "
                                    "(default: data/predicted/<input>.predictions.csv)")
    p.add_argument("--text-col", help="text column(s), comma-separated to join several")
    p.add_argument("--sep", help="CSV separator (default: detected)")
    p.add_argument("--encoding", help="CSV encoding (default: detected)")
    p.add_argument("--sheet", help="workbook sheet to read: name, or number from 1 (default: the first)")
    p.add_argument("--excel-fr", action="store_true", help=EXCEL_FR_HELP)
    p.add_argument("--raw-cells", action="store_true",
                   help="CSV output: keep cells starting with = + - @ as they are (default: a leading ' "
                        "so that a spreadsheet does not run them as formulas)")
    p.add_argument("--run", help="model run id under the models folder, or a run folder's path, "
                                  "e.g. ./elsewhere/RUN (default: models/LATEST)")
    p.add_argument("--threshold", type=float, help="review threshold on the confidence")
    p.add_argument("--kind", help="kind of text (default: submission; participatory_budget, funding_programme: "
                                  "the text_kind of config/sources.toml, with a model of recipe svm_by_kind)")
    p.add_argument("--jobs", type=int, help="processes in all (default [predict] n_jobs: 0 = one per core; 1 = no worker)")
    p.add_argument("--models", help="models folder")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local (default) or dask: INPUT a file, glob or folder of CSV/Parquet, OUTPUT Parquet "
                        "(a folder of parts when it has no suffix); needs the dask extra (docs/dask.md)")
    p.add_argument("--scheduler", help="with --engine dask: address of a running Dask scheduler "
                                       "(default: a local cluster)")
    p.add_argument("--workers", type=int, help="with --engine dask and no --scheduler: worker processes "
                                               "(default or 0: --jobs, else one per core)")

    e = sub.add_parser("evaluate", help="score every labeled source within and across sources, or the current "
                                        "model on a hand-labeled file (--labeled), into reports/evaluation/sources/ "
                                        "or reports/evaluation/labeled-FILE/")
    e.add_argument("--extra", help="folder holding the sets of config/sources.toml (as for train)")
    e.add_argument("--recipe", help="recipe evaluated (pipeline/modeling/estimators.py; default: the one the latest "
                                    "model chose, else svm)")
    e.add_argument("--labeled", help="a hand-labeled CSV/Excel/Parquet file to score the current model on")
    e.add_argument("--text-col", help="its text column(s) (default: detected)")
    e.add_argument("--label-col", help="its domain column (default: domain)")
    e.add_argument("--digital-col", help="its yes/no digital column, if any")
    e.add_argument("--sure-col", help="its yes/no column saying whether the annotator was sure of the label: "
                                      "the rows they were sure of are also scored apart from the others")
    e.add_argument("--sheet", help="its workbook sheet: name, or number from 1 (default: the first)")
    e.add_argument("--run", help="model run id under the models folder, or a run folder's path, "
                                  "e.g. ./elsewhere/RUN (default: models/LATEST)")
    e.add_argument("--models", help="models folder")
    e.add_argument("--force", action="store_true", help="with --labeled: replace an earlier evaluation of a file "
                                                       "of that name")

    r = sub.add_parser("report", help="write the barometer of predictions files into reports/<name>/")
    r.add_argument("--predictions", nargs="+", required=True, metavar="PATH",
                   help="output(s) of predict: files or quoted glob patterns, reported together")
    r.add_argument("--name", help="report folder under reports/ (default: from the file names)")
    r.add_argument("--excel-fr", action="store_true", help=EXCEL_FR_HELP)
    r.add_argument("--communes", help="communes CSV joined on code_insee instead of Etalab's package "
                                      "(e.g. ../shared/data/communes/communes-2026-pop2023.csv, with age data)")
    r.add_argument("--code-col", help="column of INSEE commune codes (default: detected)")
    r.add_argument("--models", help="models folder, where the CV metrics of the predictions' run are read")
    r.add_argument("--title", help="the report's title (default: Baromètre des services publics locaux numériques)")
    r.add_argument("--subtitle", help="a line under the title (default: initiatives and years)")
    r.add_argument("--source", help="the data's credit, printed under every chart and table "
                                    "(default: the files read)")
    r.add_argument("--force", action="store_true", help="replace an existing report of the same name")
    r.add_argument("--no-pdf", dest="pdf", action="store_false", help="do not write rapport.pdf")

    q = sub.add_parser("evaluate-quantifier", help="measure the share correction on the run's out-of-fold rows, "
                                                   "into reports/evaluation-quantifier/")
    q.add_argument("--run", help="model run id or folder (default: models/LATEST)")
    q.add_argument("--models", help="models folder")
    q.add_argument("--labeled-predictions", help="a predictions file whose rows carry their true domain")
    q.add_argument("--label-col",
                   help="its true domain column (default: domain, the input's own, which predict keeps as input_domain)")
    q.add_argument("--seed", type=int, default=0, help="seed of the held-out folds and shifted samples "
                                                       "(default 0; the split moves natural errors by about 0.003)")

    _review_parsers(sub)
    sub.add_parser("fetch-communes", help="install Etalab's commune reference and the départements' contours "
                                          "(npm, pinned, checksum verified) into data/external/")
    return parser


def _review_parsers(sub) -> None:
    v = sub.add_parser("review", help="write the rows of a predictions file most worth a reviewer's time "
                                      "into a review workbook (docs/review.md)")
    v.add_argument("--predictions", required=True, help="output of predict (CSV, TSV, Parquet or Excel, with proba_* columns)")
    v.add_argument("--output", required=True, help="the review workbook (.xlsx)")
    v.add_argument("-n", "--rows", type=int, help="rows to review (default [review] rows)")
    v.add_argument("--text-col", help="text column(s) the predictions were made from (default: detected)")
    a = sub.add_parser("audit", help="training rows whose label the model confidently contradicts, "
                                     "into a review workbook")
    a.add_argument("--output", required=True, help="the audit workbook (.xlsx)")
    a.add_argument("--extra", help="folder holding the outside labeled sets listed in config/sources.toml")
    a.add_argument("--sources", help="sources file, with --extra (default: config/sources.toml)")
    a.add_argument("--recipe", default="svm_balanced", help="recipe of the out-of-fold model (default svm_balanced)")
    a.add_argument("--cv-folds", type=int, help=CV_FOLDS_HELP)
    s = sub.add_parser("simulate-review", help="measure the review loop on the hand-labeled DGCL titles, "
                                               "into reports/review-simulation/")
    s.add_argument("--extra", default="../shared/data", help="folder holding dgcl/annotated*.csv "
                                                             "(default ../shared/data)")
    s.add_argument("--output", help="output folder (default reports/review-simulation)")
    s.add_argument("--splits", type=int, default=3, help="pool/test splits averaged (default 3)")
    s.add_argument("--jobs", type=int, default=2, help="processes running the learning curves (default 2)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # taken anywhere on the line, before or after the command
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    args.debug = debug
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    from pipeline.io.options import io_options

    # Ctrl-C noted as it comes: pandas turns one caught mid-read into a ParserError ("malformed CSV").
    # SIGTERM (kill, a scheduler stopping the job) stops every command the same way: at its default it
    # ended the process at once, leaving train's or report's half-written folder under a temporary name.
    interrupt.received.clear()
    interrupt.written.clear()
    try:
        with interrupt.stop_on(signal.SIGINT, signal.SIGTERM), io_options(
                sheet=getattr(args, "sheet", None), raw_cells=getattr(args, "raw_cells", None) or None,
                excel_fr=getattr(args, "excel_fr", None) or None):
            return _dispatch(args)
    except KeyboardInterrupt:
        return _interrupted_exit()
    except Exception as exc:
        if interrupt.received:
            return _interrupted_exit()
        if args.debug:
            raise
        message, code = error_line(exc)
        print(message, file=sys.stderr)
        return code


def _interrupted_exit() -> int:
    """The temporary outputs are gone (atomic_output): one line, and the shell's code (130 Ctrl-C, 143 SIGTERM).
    The outputs put in place before the stop are named: a stop during a folder's swap waits for its end."""
    done = f"{', '.join(interrupt.written)} written in full before the stop; nothing else was written" \
        if interrupt.written else "nothing was written"
    print(f"interrupted: {done}", file=sys.stderr)
    return interrupt.exit_code()


# Failures of the system a user can fix: a file or folder refused, a disk full.
USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EEXIST,
               errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP}


def error_line(exc: BaseException) -> tuple[str, int]:
    """One line for an error, and the exit code: 2 for the user's input, 1 for an unexpected failure."""
    if isinstance(exc, PipelineError):
        return f"error: {str(exc).strip()}".replace("\n", " "), 2
    if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"error: {where}{exc.strerror or exc}", 2
    if isinstance(exc, WorkerDied):
        return f"error: {exc}", 1
    if isinstance(exc, MemoryError):
        return "error: out of memory; label the file in parts, or lower [predict] chunk_size", 2
    log_file = write_crash_log(exc)
    summary = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
    return f"error: unexpected failure ({summary}); the details are in {log_file} (--debug shows them here)", 1


def write_crash_log(exc: BaseException) -> Path:
    """The traceback, in a file of the temporary folder (the line on the terminal names it)."""
    try:  # mkstemp: a fresh file of this user only, never one planted in the shared folder
        fd, name = tempfile.mkstemp(prefix=f"barometre-error-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log")
        path = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"command: {' '.join(sys.argv)}\n\n")
            traceback.print_exception(exc, file=fh)
    except OSError:
        return Path("(no log: the temporary folder is not writable; rerun with --debug)")
    return path


def _dispatch(args) -> int:
    check_modes(args.command, args)
    if args.command in ("report", "fetch-communes"):
        return _dispatch_report(args)
    if args.command == "evaluate-quantifier":
        from pipeline.commands.quantify import run_evaluate_quantifier

        config = load_config(args.config, {"paths.models": args.models})
        print(run_evaluate_quantifier(config, args.run, labeled_predictions=args.labeled_predictions,
                                      label_col=args.label_col or "domain", seed=args.seed))
        return 0
    from pipeline.commands.predict import default_output, run_predict
    from pipeline.commands.train import run_train

    overrides = {
        "paths.models": getattr(args, "models", None),
        "paths.sources": getattr(args, "sources", None),
        "train.cv_folds": getattr(args, "cv_folds", None),
        "predict.review_threshold": getattr(args, "threshold", None),
        "predict.n_jobs": getattr(args, "jobs", None),
    }
    if getattr(args, "sources", None) and not args.extra:
        raise PipelineError(f"--sources {args.sources}: a sources file is read only with --extra (EXTRA=), the "
                            "folder its paths are relative to; add --extra FOLDER, or drop --sources")
    config = load_config(args.config, overrides)
    if args.command == "train":
        run_train(config, args.extra, args.reviewed)
    elif args.command in ("review", "audit", "simulate-review"):
        return _dispatch_review(args, config)
    elif args.command == "predict":
        input_path = args.input or config["paths"]["raw_sample"]
        if not args.input and not _has_model(config):
            logging.info("no trained model yet: training one on the seed set first")
            run_train(config)
        output = args.output or default_output(config, input_path)
        if args.engine == "dask" and not args.output:
            output = output.with_suffix(".parquet")
        out = run_predict(config, input_path, output, args.text_col, args.run, args.sep, args.encoding,
                          text_kind=args.kind, engine=args.engine, scheduler=args.scheduler, workers=args.workers)
        print(out)
    elif args.command == "evaluate":
        from pipeline.commands.evaluate import run_evaluate, run_evaluate_labeled

        if args.labeled:
            print(run_evaluate_labeled(config, args.labeled, args.text_col, args.label_col or "domain", args.digital_col,
                                       args.run, args.sure_col, args.force))
        else:
            print(run_evaluate(config, args.extra, args.recipe))
    return 0


def _dispatch_report(args) -> int:
    """report and fetch-communes: no spaCy, no model loaded."""
    config = load_config(args.config, {"paths.models": getattr(args, "models", None)})
    if args.command == "fetch-communes":
        from pipeline.report.external import install_etalab
        from pipeline.report.maps import install_map

        print(install_etalab(config))
        print(install_map(config))  # the départements' contours for the report's map
    else:
        from pipeline.commands.report import ReportSettings, run_report

        settings = ReportSettings(name=args.name, communes_csv=args.communes, code_col=args.code_col, title=args.title,
                                  subtitle=args.subtitle, source=args.source, force=args.force, pdf=args.pdf)
        print(run_report(config, args.predictions, settings))
    return 0


def _dispatch_review(args, config) -> int:
    if args.command == "review":
        from pipeline.commands.review import run_review

        print(run_review(config, args.predictions, args.output, args.rows, args.text_col))
    elif args.command == "audit":
        from pipeline.commands.audit import run_audit

        print(run_audit(config, args.output, args.extra, args.recipe))
    else:
        from pipeline.commands.simulate_review import run_simulation

        print(run_simulation(config, args.extra, args.output, args.splits, n_jobs=args.jobs))
    return 0


def _has_model(config) -> bool:
    from pathlib import Path

    return (Path(config["paths"]["models"]) / "LATEST").is_file()
