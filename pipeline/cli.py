"""Command line: `python -m pipeline train|predict|report ...` (also installed as `barometre`).

A thin shell: it reads options, calls pipeline.runs, and turns a PipelineError
into one plain line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import logging
import sys

from pipeline.config import load_config
from pipeline.errors import PipelineError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="barometre", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config file (default: config/pipeline.toml)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train on data/labeled (and --extra sources), write models/<run>/")
    t.add_argument("--extra", help="folder holding the outside labeled sets listed in config/sources.toml")
    t.add_argument("--sources", help="sources file (default: config/sources.toml)")
    t.add_argument("--cv-folds", type=int)
    t.add_argument("--models", help="models folder")

    p = sub.add_parser("predict", help="label a CSV/Excel/Parquet file of submissions")
    p.add_argument("--input", help="file to label (default: the sample in data/raw/)")
    p.add_argument("--output", help="CSV or Parquet output (default: data/predicted/<input>.predictions.csv)")
    p.add_argument("--text-col", help="text column(s), comma-separated to join several")
    p.add_argument("--sep", help="CSV separator (default: detected)")
    p.add_argument("--encoding", help="CSV encoding (default: detected)")
    p.add_argument("--run", help="model run id or folder (default: models/LATEST)")
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
                                               "(default: one per core)")

    e = sub.add_parser("evaluate", help="score every labeled source within and across sources, or the current "
                                        "model on a hand-labeled file (--labeled), into reports/evaluation/")
    e.add_argument("--extra", help="folder holding the sets of config/sources.toml (as for train)")
    e.add_argument("--recipe", help="recipe evaluated (pipeline/estimators.py; default: the one the latest "
                                    "model chose, else svm)")
    e.add_argument("--labeled", help="a hand-labeled CSV/Excel/Parquet file to score the current model on")
    e.add_argument("--text-col", help="its text column(s) (default: detected)")
    e.add_argument("--label-col", default="domain", help="its domain column (default: domain)")
    e.add_argument("--digital-col", help="its yes/no digital column, if any")
    e.add_argument("--run", help="model run id or folder (default: models/LATEST)")
    e.add_argument("--models", help="models folder")

    r = sub.add_parser("report", help="write the barometer of predictions files into reports/<name>/")
    r.add_argument("--predictions", nargs="+", required=True, metavar="PATH",
                   help="output(s) of predict: files or quoted glob patterns, reported together")
    r.add_argument("--name", help="report folder under reports/ (default: from the file names)")
    r.add_argument("--communes", help="communes CSV joined on code_insee instead of Etalab's package "
                                      "(e.g. ../shared/data/communes/communes-2026-pop2023.csv, with age data)")
    r.add_argument("--code-col", help="column of INSEE commune codes (default: detected)")
    r.add_argument("--models", help="models folder, where the CV metrics of the predictions' run are read")

    sub.add_parser("fetch-communes", help="install Etalab's commune reference (npm, pinned, checksum "
                                          "verified) into data/external/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        return _dispatch(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    if args.command in ("report", "fetch-communes"):
        return _dispatch_report(args)
    from pipeline.commands.predict import default_output, run_predict
    from pipeline.commands.train import run_train

    overrides = {
        "paths.models": getattr(args, "models", None),
        "paths.sources": getattr(args, "sources", None),
        "train.cv_folds": getattr(args, "cv_folds", None),
        "predict.review_threshold": getattr(args, "threshold", None),
        "predict.n_jobs": getattr(args, "jobs", None),
    }
    config = load_config(args.config, overrides)
    if args.command == "train":
        run_train(config, args.extra)
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
            print(run_evaluate_labeled(config, args.labeled, args.text_col, args.label_col, args.digital_col,
                                       args.run))
        else:
            print(run_evaluate(config, args.extra, args.recipe))
    return 0


def _dispatch_report(args) -> int:
    """report and fetch-communes: no spaCy, no model loaded."""
    config = load_config(args.config, {"paths.models": getattr(args, "models", None)})
    if args.command == "fetch-communes":
        from pipeline.report.external import install_etalab

        print(install_etalab(config))
    else:
        from pipeline.commands.report import run_report

        print(run_report(config, args.predictions, args.name, args.communes, args.code_col))
    return 0


def _has_model(config) -> bool:
    from pathlib import Path

    return (Path(config["paths"]["models"]) / "LATEST").is_file()
