"""`make bench`: speed and memory of train and predict, and macro-F1 of each preprocessing variant.

    python bench/run.py [--quick] [--only throughput,train,memory,dedup,f1] [--data ../shared/data]

Prints one table per section and writes bench/results.json (targets, pass or
fail, machine, load average). Everything it makes (models, lemma caches, the
generated 10,000 to 1,000,000-row inputs, predictions) goes to a temporary
folder, removed at the end (--keep keeps it). Each predict is timed in a
fresh process, as `make predict` runs, with its peak memory: the largest
RSS of any one of its processes (getrusage) and the sum of the PSS of its
process tree (sampled every 0.1 s: memory shared by forked workers counted once).
The speed targets of issue 5 are checked here, never in the tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.compare import side_by_side  # noqa: E402
from bench.measure import effective_cores, load_avg, machine  # noqa: E402
from bench.memory import memory_section  # noqa: E402
from bench.quality import dedup_section, f1_section  # noqa: E402
from bench.report import TARGETS, table, verdicts  # noqa: E402
from bench.throughput import throughput_section  # noqa: E402
from bench.train import train_section  # noqa: E402
from pipeline.features.lemma_cache import CACHE_ENV  # noqa: E402
from pipeline.modeling.run_folder import MODEL_FILE  # noqa: E402

SECTIONS = ("throughput", "train", "memory", "dedup", "f1")
# Run in this order, after train; each gets the context and returns its part of results.json.
AFTER_TRAIN = {"throughput": throughput_section, "memory": memory_section, "dedup": dedup_section,
               "f1": f1_section}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and samples: the seed set only for "
                    "training, a tenth of the titles for spaCy, one run of each predict")
    ap.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)} (train always runs "
                                   f"when another section needs a model)")
    ap.add_argument("--data", default=str(PROJECT.parent / "shared" / "data"), help="the shared data folder")
    ap.add_argument("--sizes", help="rows of the memory section (default 10000,100000,1000000; quick 10000,30000,100000)")
    ap.add_argument("--out", default=str(PROJECT / "bench" / "results.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--repeats", type=int, help="runs of each predict on the whole DGCL file (default 3; quick 1)")
    ap.add_argument("--f1-all-recipes", action="store_true",
                    help="macro-F1 of the svm_balanced recipe too (about a minute more)")
    ap.add_argument("--baseline", help="a results.json of an earlier run: its times and memory printed beside this "
                                       "run's, with the ratio")
    ap.add_argument("--model", help="a trained run folder for the predict sections (instead of training one)")
    a = ap.parse_args(argv)

    class Ctx:
        pass

    # Read first: a baseline that cannot be read stops the run before it starts.
    baseline = None
    if a.baseline:
        try:
            baseline = json.loads(Path(a.baseline).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            ap.error(f"--baseline {a.baseline}: not a readable results.json ({exc})")
        if not isinstance(baseline, dict):  # JSON, but not this script's: compared only after the whole run
            ap.error(f"--baseline {a.baseline}: not a results.json of bench/run.py (no object of figures)")
    # A model that is not there would fail only at the first predict, after the sections before it.
    if a.model and not (Path(a.model) / MODEL_FILE).is_file():
        ap.error(f"--model {a.model}: not a trained run folder (no {MODEL_FILE} in it)")
    # Every option is checked before the temporary folder is made and the first model trained.
    sections = a.only.split(",") if a.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    sizes = (a.sizes or ("10000,30000,100000" if a.quick else "10000,100000,1000000")).split(",")
    if not all(s.strip().isdigit() and int(s) > 0 for s in sizes):
        ap.error(f"--sizes {a.sizes}: give row counts above 0, comma-separated (10000,100000)")
    if a.repeats is not None and a.repeats < 1:
        ap.error(f"--repeats {a.repeats}: give a number of runs of at least 1")
    if not Path(a.data).is_dir() and not (sections == ["train"] and a.quick):
        ap.error(f"--data {a.data}: no such folder (the shared data, holding the DGCL lists)")
    ctx = Ctx()
    ctx.quick, ctx.data = a.quick, Path(a.data).resolve()
    ctx.sizes = [int(s) for s in sizes]
    ctx.f1_classifiers = ["svm", "svm_balanced"] if a.f1_all_recipes else ["svm"]
    ctx.repeats = a.repeats or (1 if a.quick else 3)
    ctx.tmp = Path(tempfile.mkdtemp(prefix="barometre-bench-"))
    ctx.models, ctx.runs = ctx.tmp / "models", {}
    text = (PROJECT / "config" / "pipeline.toml").read_text(encoding="utf-8")
    ctx.config_path = ctx.tmp / "pipeline.toml"
    ctx.config_path.write_text("\n".join(f'models = "{ctx.models}"' if line.split("=")[0].strip() == "models"
                                         else line for line in text.splitlines()) + "\n", encoding="utf-8")
    os.environ[CACHE_ENV] = "off"
    started = time.perf_counter()
    results = {"command": "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "quick": a.quick, "machine": machine(), "targets": TARGETS, "load_start": load_avg(),
               "effective_cores_start": effective_cores()}
    print(f"bench: temporary folder {ctx.tmp}; machine {results['machine']['cores']} cores, "
          f"load average {results['load_start']}, cores free for us {results['effective_cores_start']}")
    try:
        if a.model:
            ctx.runs["given"] = Path(a.model).resolve()
        if "train" in sections or (set(sections) & {"throughput", "memory", "dedup"} and not a.model):
            results["train"] = train_section(ctx)
        ctx.results = results
        for name, section in AFTER_TRAIN.items():
            if name in sections:
                results[name] = section(ctx)
    finally:
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["load_end"] = load_avg()
        results["effective_cores_end"] = effective_cores()
        results["verdicts"] = verdicts(results)
        Path(a.out).write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        if not a.keep:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    if baseline is not None:
        rows = side_by_side(baseline, results)
        modes = ("" if bool(baseline.get("quick")) == a.quick else
                 "; one run --quick, the other not: spaCy's sample and the memory sizes differ")
        table(f"Against the baseline {a.baseline} (lower is better; ratio this run / baseline{modes})",
              ["figure", "baseline", "this run", "ratio"], rows)
    table("Targets of issue 5", ["target", "value", "met"],
          [[k, v["value"], {True: "yes", False: "NO", None: v.get("note")}[v["met"]]]
           for k, v in results["verdicts"].items()])
    print(f"\n{results['seconds']:.0f} s in all; cores free for us at the end {results['effective_cores_end']}; "
          f"written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
