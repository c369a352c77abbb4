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
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from pipeline.config import load_config  # noqa: E402
from pipeline.features.lemma_cache import CACHE_ENV  # noqa: E402
from pipeline.features.lemmatizer import SpacyLemmatizer, _model_meta  # noqa: E402
from pipeline.features.text import normalize  # noqa: E402
from pipeline.io.tables import read_table  # noqa: E402

YEARS = ("2018", "2019", "2023")
SECTIONS = ("throughput", "train", "memory", "dedup", "f1")
TARGETS = {
    "speedup_vs_full_spacy": 20.0,   # predict end to end, words/s, same run
    "macro_f1_gap": 0.01,            # lookup (fast) vs tagger (slow path)
    "rss_ratio_1m_vs_10k": 1.5,
    "time_ratio_1m_vs_100k": 11.0,
}


# -- small helpers ------------------------------------------------------------------
def words(texts) -> int:
    return sum(len(t.split()) for t in texts)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def load_avg() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for k, r in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if k and i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _fmt(c) -> str:
    if isinstance(c, float):
        return f"{c:,.0f}" if abs(c) >= 1000 else (f"{c:.2f}" if abs(c) >= 1 else f"{c:.3f}")
    if isinstance(c, int):
        return f"{c:,}"
    return "" if c is None else str(c)


def model_run(ctx) -> Path:
    """The model the predict sections use: --model, else the one trained with EXTRA, else on the seed set."""
    return ctx.runs.get("given") or ctx.runs.get("extra") or ctx.runs["seed"]


def dgcl_files(data: Path) -> list[Path]:
    return [data / "dgcl" / f"dotations-{y}.csv" for y in YEARS]


def combined_dgcl(ctx) -> Path:
    """The three DGCL years as one input (same columns): what `make predict` gets from a yearly export."""
    path = ctx.tmp / "dgcl-2018-2019-2023.csv"
    if not path.exists():
        pd.concat([read_table(p) for p in dgcl_files(ctx.data)]).to_csv(path, sep=";", index=False)
    return path


def _burn(n: int = 5_000_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def effective_cores() -> float:
    """How many cores this machine gives us now: one busy loop, then two at once (other users' load shows)."""
    import multiprocessing

    one, _ = timed(_burn)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_burn) for _ in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return round(2 * one / (time.perf_counter() - start), 2)


def dgcl_texts(data: Path) -> dict[str, list[str]]:
    return {p.name: read_table(p)["intitule"].fillna("").astype(str).str.strip().tolist() for p in dgcl_files(data)}


def child_env(cache: str | Path | None = "off") -> dict:
    env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env[CACHE_ENV] = str(cache) if cache else "off"
    env.setdefault("TQDM_DISABLE", "1")
    return env


# -- a fresh process, timed, with its peak memory -------------------------------------
def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return pids


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# A forked child's peak RSS counts its parent's memory before exec (Linux keeps the high-water
# mark across exec); so each measured command is started by this small launcher, whose own
# fork is tiny, and which reports its child's resource usage (that child and its workers).
_LAUNCHER = """import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, u = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"maxrss_kb": u.ru_maxrss, "cpu_s": u.ru_utime + u.ru_stime}, fh)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(args: list[str], env: dict) -> dict:
    """Run a command; return its wall time, CPU time, output, peak RSS (the largest of its
    processes, getrusage) and peak summed PSS and RSS of its process tree (sampled)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    usage_file = Path(tempfile.mkstemp(prefix="usage-", suffix=".json")[1])
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_file), *args], stdout=out, stderr=err,
                            env=env, cwd=PROJECT)
    peaks = {"pss": 0, "rss": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            pids = _tree(proc.pid)[1:]  # the launcher left out
            peaks["pss"] = max(peaks["pss"], sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
            peaks["rss"] = max(peaks["rss"], sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    if sys.platform.startswith("linux"):
        sampler.start()
    proc.wait()
    wall = time.perf_counter() - start
    done.set()
    out.seek(0), err.seek(0)
    stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    usage = json.loads(usage_file.read_text())
    usage_file.unlink()
    return {"wall_s": round(wall, 3), "cpu_s": round(usage["cpu_s"], 2), "stdout": stdout, "stderr": stderr,
            "max_rss_mb": round(usage["maxrss_kb"] / 1024, 1),  # kB on Linux
            "tree_pss_mb": round(peaks["pss"] / 1024, 1) or None, "tree_rss_mb": round(peaks["rss"] / 1024, 1) or None}


def predict_child(run: Path, inputs: list[Path], out_dir: Path, *, jobs: int = 0, suffix: str = "csv",
                  dedup: bool = True, variant: str = "fast", keep: str | None = None) -> dict:
    """`make predict` of each input in one fresh process (see `_predict_main`), measured;
    the outputs are deleted, or moved to out_dir/kept-<keep>/."""
    args = [sys.executable, str(Path(__file__).resolve()), "_predict", "--run", str(run), "--out-dir", str(out_dir),
            "--jobs", str(jobs), "--suffix", suffix, "--variant", variant, *(["--no-dedup"] if not dedup else []),
            *map(str, inputs)]
    result = run_measured(args, child_env())
    report = json.loads(result.pop("stdout").strip().splitlines()[-1])
    result.pop("stderr")
    for p in out_dir.glob("*.pred.*"):
        if keep:
            (out_dir / f"kept-{keep}").mkdir(exist_ok=True)
            p.rename(out_dir / f"kept-{keep}" / p.name)
        else:
            p.unlink()
    return {**result, **report}


def _predict_main(argv: list[str]) -> None:
    """In the fresh process: load the model, then time `run_predict` over each input."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--run"), ap.add_argument("--out-dir"), ap.add_argument("--jobs", type=int)
    ap.add_argument("--suffix"), ap.add_argument("--variant"), ap.add_argument("--no-dedup", action="store_true")
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args(argv)
    from dataclasses import replace

    from pipeline.commands.predict import PredictSettings, label_file
    from pipeline.io.tables import count_rows
    from pipeline.modeling.run_folder import load_model
    from pipeline.modeling.workers import predict_jobs

    config = load_config()
    load_s, model = timed(lambda: load_model(config["paths"]["models"], a.run))
    if a.variant == "tagger":  # the slow path: spaCy's tagger on every text (same classifiers)
        lem = model.lemmatizer
        model.lemmatizer = SpacyLemmatizer(lem.model, "tagger", lem.batch_size, lem.n_process).fit([])
    elif a.variant == "plain":  # the code before issue 5: no shortcut, whole texts through the tokenizer
        _plain_paths()
    load2_s, _ = timed(model.load)
    per_file = []
    for path in map(Path, a.inputs):
        out = Path(a.out_dir) / f"{path.stem}.pred.{a.suffix}"
        cpu = _cpu()
        settings = replace(PredictSettings.from_config(config), n_jobs=a.jobs)
        s, _ = timed(label_file, model, path, out, settings, text_col="intitule", dedup=not a.no_dedup)
        per_file.append({"file": path.name, "seconds": round(s, 3), "cpu_s": round(_cpu() - cpu, 3),
                         "jobs": predict_jobs(a.jobs, count_rows(path))})
    print(json.dumps({"load_s": round(load_s + load2_s, 3), "files": per_file,
                      "predict_s": round(sum(f["seconds"] for f in per_file), 3),
                      "predict_cpu_s": round(sum(f["cpu_s"] for f in per_file), 3)}))


def _cpu() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _plain_paths() -> None:
    import unicodedata

    from pipeline.modeling import model as model_module
    from pipeline.features import lemmatizer as preprocess

    def normalize_plain(text):
        text = unicodedata.normalize("NFKD", str(text).casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return " ".join(text.replace("’", "'").split())

    def lookup_plain(self, texts):
        table = self.lemma_table_
        return [" ".join(table.get(t.text, t.text) for t in doc if preprocess._keep(t))
                for doc in self.nlp.tokenizer.pipe(texts, batch_size=self.batch_size)]

    preprocess.normalize = normalize_plain
    preprocess.SpacyLemmatizer._lookup_lemmas = lookup_plain
    model_module.predict_proba = lambda classifier, X, shortcuts=None: classifier.predict_proba(X)


# -- sections ---------------------------------------------------------------------------
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
    """The log lines of `make train` that end each stage (training.py logs them; 1 s resolution)."""
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
            stage[f"load spaCy's tagger pipeline (before: {label})"], _ = timed(lambda: lem.nlp)
        stage[label], _ = timed(lambda: lem.fit(texts))
    os.environ[CACHE_ENV] = "off"
    rows = [[name, k, v, n_words / v if k.startswith("tagger") else None] for k, v in stage.items()]
    logged = {n: runs[f"{n}_warm"]["stages"] for n, _ in sets}
    rows += [[f"{n}, warm `make train`", k, float(v), None] for n, st in logged.items() for k, v in st.items()]
    table(f"Training breakdown ({name}: {len(texts):,} texts, {n_words:,} words)", ["set", "step", "seconds",
                                                                                     "words/s"], rows)
    return {"set": name, "rows": len(texts), "words": n_words, "seconds": {k: round(v, 2) for k, v in stage.items()},
            "warm_train_stages_s": logged}


def throughput_section(ctx) -> dict:
    """Predict end to end on the three DGCL years, beside spaCy's full pipeline and tokenizer."""
    import spacy

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
        nlp = spacy.load(model_name, exclude=exclude)
        if label != "tokenizer":
            list(nlp.pipe(part[:200]))  # warm-up
        cpu = time.process_time()
        s, _ = timed(lambda: sum(1 for _ in (nlp.tokenizer.pipe(part, batch_size=1000) if label == "tokenizer"
                                             else nlp.pipe(part, batch_size=256))))
        cpu = time.process_time() - cpu
        spacy_rates[label] = {"texts": len(part), "words": words(part), "seconds": round(s, 2),
                              "cpu_s": round(cpu, 2), "words_per_s": round(words(part) / s),
                              "words_per_cpu_s": round(words(part) / cpu), "components": nlp.pipe_names}
        del nlp
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
    res["predict"] = {}
    for label, inputs, kw, repeats in configs:
        all_s = [r["predict_s"] for r in runs[label]]
        r = sorted(runs[label], key=lambda r: r["predict_s"])[len(all_s) // 2]  # the median run
        w, rows = (n_words, n_rows) if inputs == every else (w2023, r2023)
        r.update(words=w, rows=rows, words_per_s=round(w / r["predict_s"]), rows_per_s=round(rows / r["predict_s"]),
                 words_per_cpu_s=round(w / r["predict_cpu_s"]), words_per_s_cold=round(w / r["wall_s"]),
                 predict_s_runs=all_s)
        res["predict"][label] = r
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


def identical_check(ctx) -> dict:
    """The fast path's predictions on dotations-2023 against the plain path's, row by row."""
    a, b = (pd.read_parquet(ctx.tmp / f"kept-{v}" / "dotations-2023.pred.parquet") for v in ("fast", "plain"))
    probas = [c for c in a.columns if c.startswith("proba_")]
    return {"rows": len(a), "same_domain": int((a["domain"] == b["domain"]).sum()),
            "same_digital": int((a["digital"] == b["digital"]).sum()),
            "max_abs_proba_diff": float(np.abs(a[probas].to_numpy() - b[probas].to_numpy()).max())}


def distinct_inputs(ctx, sizes: list[int]) -> dict[int, tuple[Path, int]]:
    """CSV files of n rows whose texts are all distinct (after normalisation): two real DGCL titles joined."""
    frames = [read_table(p) for p in dgcl_files(ctx.data)]
    pool = pd.concat(frames)[["beneficiaire_code_insee", "intitule"]]
    pool = pool.assign(key=pool["intitule"].map(normalize)).drop_duplicates("key")
    pool = pool[pool["key"] != ""]
    titles, codes = pool["intitule"].str.strip().tolist(), pool["beneficiaire_code_insee"].tolist()
    rng = np.random.default_rng(5)
    seen, rows = set(), []
    n_max = max(sizes)
    while len(rows) < n_max:
        for a, b in rng.integers(len(titles), size=(n_max - len(rows), 2)):
            text = f"{titles[a]} {titles[b]}"
            key = normalize(text)
            if a != b and key not in seen:
                seen.add(key)
                rows.append((codes[a], text))
    out = {}
    frame = pd.DataFrame(rows, columns=["beneficiaire_code_insee", "intitule"])
    frame.insert(0, "id", [f"r{i:07d}" for i in range(len(frame))])
    for n in sizes:
        path = ctx.tmp / f"distinct-{n}.csv"
        frame.iloc[:n].to_csv(path, sep=";", index=False)
        out[n] = (path, words(frame["intitule"].iloc[:n]))
    return out


def memory_section(ctx) -> dict:
    sizes = ctx.sizes
    inputs = distinct_inputs(ctx, sizes)
    run = model_run(ctx)
    res = {}
    for n in sizes:
        path, n_words = inputs[n]
        r = predict_child(run, [path], ctx.tmp, jobs=0)
        res[n] = {"rows": n, "words": n_words, "predict_s": r["predict_s"], "wall_s": r["wall_s"],
                  "load_s": r["load_s"], "jobs": r["files"][0]["jobs"], "max_rss_mb": r["max_rss_mb"],
                  "tree_pss_mb": r["tree_pss_mb"], "tree_rss_mb": r["tree_rss_mb"],
                  "words_per_s": round(n_words / r["predict_s"]), "rows_per_s": round(n / r["predict_s"])}
        path.unlink()
    lo, mid, hi = sizes[0], sizes[len(sizes) // 2] if len(sizes) > 2 else sizes[0], sizes[-1]
    res["ratios"] = {f"max_rss_{hi}_vs_{lo}": round(res[hi]["max_rss_mb"] / res[lo]["max_rss_mb"], 2),
                     f"tree_pss_{hi}_vs_{lo}": (round(res[hi]["tree_pss_mb"] / res[lo]["tree_pss_mb"], 2)
                                                if res[lo]["tree_pss_mb"] else None),
                     f"time_{hi}_vs_{mid}": round(res[hi]["predict_s"] / res[mid]["predict_s"], 2),
                     "rows": [lo, mid, hi]}
    table("Predict on distinct texts (pairs of DGCL titles), CSV in and out, fresh process each",
          ["rows", "processes", "predict s", "words/s", "rows/s", "max RSS MB (1 process)", "tree PSS MB",
           "tree RSS MB"],
          [[n, res[n]["jobs"], res[n]["predict_s"], res[n]["words_per_s"], res[n]["rows_per_s"], res[n]["max_rss_mb"],
            res[n]["tree_pss_mb"], res[n]["tree_rss_mb"]] for n in sizes])
    print(f"  ratios: {res['ratios']}")
    return res


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


# -- main ---------------------------------------------------------------------------------
def verdicts(results: dict) -> dict:
    out = {}
    t = results.get("throughput")
    if t:
        r = t["ratios"]["predict_vs_full_spacy"]
        out["predict >= 20x full spaCy words/s"] = {"value": r, "met": r >= TARGETS["speedup_vs_full_spacy"]}
    f = results.get("f1")
    if f:
        for clf in f["classifiers"]:
            v = f["variants"]
            gap = round(v[f"{clf} / tagger"]["macro_f1"] - v[f"{clf} / lookup"]["macro_f1"], 4)
            out[f"macro-F1 lookup within 0.01 of tagger ({clf})"] = {"value": gap, "met": gap <= TARGETS["macro_f1_gap"]}
    m = results.get("memory")
    if m:
        ratios = m["ratios"]
        lo, mid, hi = ratios["rows"]
        for key in (f"max_rss_{hi}_vs_{lo}", f"tree_pss_{hi}_vs_{lo}"):
            if ratios.get(key) is not None:
                out[f"peak memory {key} <= 1.5"] = {"value": ratios[key], "met": ratios[key] <= TARGETS["rss_ratio_1m_vs_10k"]}
        key = f"time_{hi}_vs_{mid}"
        out[f"{key} <= 11"] = {"value": ratios[key], "met": ratios[key] <= TARGETS["time_ratio_1m_vs_100k"]}
    if t:
        p = t["predict"]
        gain = p["fast, 1 process, CSV out"]["predict_s"] / p["fast, 2 processes, CSV out"]["predict_s"]
        free = min(results.get("effective_cores_start") or 0, results.get("effective_cores_end") or 0)
        out["both cores used: 2 processes faster than 1"] = {
            "value": round(gain, 2), "met": gain > 1.1 if free >= 1.6 else None,
            "note": None if free >= 1.6 else f"not measurable: only {free} of the cores were free for this run"}
    return out


def machine() -> dict:
    from threadpoolctl import threadpool_info

    import sklearn
    import spacy

    return {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count(),
            "spacy": spacy.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "threadpools": [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                            for i in threadpool_info()]}


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "_predict":
        _predict_main(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and samples (about 4 minutes)")
    ap.add_argument("--only", help=f"comma-separated sections among {','.join(SECTIONS)} (train always runs "
                                   f"when another section needs a model)")
    ap.add_argument("--data", default=str(PROJECT.parent / "shared" / "data"), help="the shared data folder")
    ap.add_argument("--sizes", help="rows of the memory section (default 10000,100000,1000000; quick 10000,30000,100000)")
    ap.add_argument("--out", default=str(PROJECT / "bench" / "results.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--repeats", type=int, help="runs of each predict on the whole DGCL file (default 3; quick 1)")
    ap.add_argument("--f1-all-recipes", action="store_true",
                    help="macro-F1 of the svm_balanced recipe too (about a minute more)")
    ap.add_argument("--model", help="a trained run folder for the predict sections (instead of training one)")
    a = ap.parse_args(argv)

    class Ctx:
        pass

    ctx = Ctx()
    ctx.quick, ctx.data = a.quick, Path(a.data).resolve()
    ctx.sizes = [int(s) for s in (a.sizes or ("10000,30000,100000" if a.quick else "10000,100000,1000000")).split(",")]
    ctx.f1_classifiers = ["svm", "svm_balanced"] if a.f1_all_recipes else ["svm"]
    ctx.repeats = a.repeats or (1 if a.quick else 3)
    ctx.tmp = Path(tempfile.mkdtemp(prefix="barometre-bench-"))
    ctx.models, ctx.runs = ctx.tmp / "models", {}
    text = (PROJECT / "config" / "pipeline.toml").read_text(encoding="utf-8")
    ctx.config_path = ctx.tmp / "pipeline.toml"
    ctx.config_path.write_text("\n".join(f'models = "{ctx.models}"' if line.split("=")[0].strip() == "models"
                                         else line for line in text.splitlines()) + "\n", encoding="utf-8")
    os.environ[CACHE_ENV] = "off"
    sections = a.only.split(",") if a.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
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
        for name in ("throughput", "memory", "dedup", "f1"):
            if name in sections:
                results[name] = globals()[f"{name}_section"](ctx)
    finally:
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["load_end"] = load_avg()
        results["effective_cores_end"] = effective_cores()
        results["verdicts"] = verdicts(results)
        Path(a.out).write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        if not a.keep:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    table("Targets of issue 5", ["target", "value", "met"],
          [[k, v["value"], {True: "yes", False: "NO", None: v.get("note")}[v["met"]]]
           for k, v in results["verdicts"].items()])
    print(f"\n{results['seconds']:.0f} s in all; cores free for us at the end {results['effective_cores_end']}; "
          f"written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
