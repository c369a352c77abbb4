"""The Dask engine beside the local one: throughput, memory per worker, and row-for-row agreement.

    PYTHONPATH=. python bench/dask_bench.py --rows 1000000            # throughput, 1 and 2 workers
    PYTHONPATH=. python bench/dask_bench.py --check                   # ~110,000 distinct real texts
    PYTHONPATH=. python bench/dask_bench.py --check --kill-worker 20  # ... losing a worker after 20 s

Inputs are built in a temporary folder (never in the repository) from the
real DGCL titles of ../shared/data/dgcl: --rows N distinct texts made by
joining pairs of titles, or (--check) the distinct `intitule` of the three
DGCL years and the `description` of the ANCT categories. The model is
--run (a run folder; default: the latest under --models). Results are
printed and written as JSON to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.commands.predict import PredictSettings, label_file
from pipeline.config import PROJECT_DIR, load_config
from pipeline.engines.dask_engine import dask_client, label_with_dask, ship_model
from pipeline.modeling.run_folder import load_run, resolve_run

DGCL = PROJECT_DIR.parent / "shared" / "data" / "dgcl"


def real_texts() -> list[str]:
    """Distinct non-empty DGCL titles (2018, 2019, 2023) and ANCT descriptions, in file order."""
    texts = []
    for year in (2018, 2019, 2023):
        texts += pd.read_csv(DGCL / f"dotations-{year}.csv", sep=";", dtype=str, encoding="utf-8-sig",
                             keep_default_na=False)["intitule"].tolist()
    texts += pd.read_csv(DGCL / "anct-categories-2018-2019.csv", dtype=str, keep_default_na=False)["description"].tolist()
    return [t for t in dict.fromkeys(t.strip() for t in texts) if t]


def paired_texts(rows: int, seed: int = 0) -> list[str]:
    """`rows` distinct texts, each two real titles joined ("A. B")."""
    titles = np.array(real_texts(), dtype=object)
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < rows:
        a, b = rng.integers(0, len(titles), size=(2, rows))
        out.update(dict.fromkeys(f"{x}. {y}" for x, y in zip(titles[a], titles[b])))
    return list(out)[:rows]


def write_inputs(texts: list[str], folder: Path, files: int) -> tuple[Path, str]:
    """One CSV of every row (for the local engine) and the same rows cut into `files` CSV files (a glob)."""
    frame = pd.DataFrame({"id": [f"r{i:07d}" for i in range(len(texts))], "text": texts})
    frame.to_csv(folder / "all.csv", index=False)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[part].to_csv(folder / f"part-{i:03d}.csv", index=False)
    return folder / "all.csv", str(folder / "part-*.csv")


def _own_peak_mb() -> float:
    """This process's peak RSS since it started its program: VmHWM (getrusage's ru_maxrss
    would carry the peak of the process that spawned it across exec)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def worker_peaks(client) -> list[float]:
    """Peak RSS of each worker process, MB."""
    return [round(v) for v in client.run(_own_peak_mb).values()]


def run_local(model_folder: Path, settings, input_csv: Path, out: Path) -> dict:
    model, _ = load_run(model_folder)
    start = time.perf_counter()
    label_file(model, input_csv, out, settings, text_col="text")
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "processes": settings.n_jobs or os.cpu_count(),
            "peak_rss_mb_main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak_rss_mb_largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}


def run_dask(model_folder: Path, settings, pattern: str, out: Path, workers: int, kill_after: float = 0) -> dict:
    start = time.perf_counter()
    with dask_client(None, workers) as client:
        started = time.perf_counter() - start
        if kill_after:  # a worker lost mid-run: Dask must reschedule its partitions
            def kill():
                time.sleep(kill_after)
                victim = sorted(client.scheduler_info()["workers"])[0]
                pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)  # the local cluster's worker process, as an out-of-memory kill would
                print(f"killed worker {victim} (pid {pid}) after {kill_after} s", flush=True)
            threading.Thread(target=kill, daemon=True).start()
        label_with_dask(model_folder, pattern, out, settings, text_col="text", client=client)
        seconds = time.perf_counter() - start
        peaks = worker_peaks(client)
        lost = client.scheduler_info()["workers"]
    return {"seconds": round(seconds, 1), "cluster_start_seconds": round(started, 1), "workers": workers,
            "peak_rss_mb_per_worker": peaks, "worker_names_at_end": sorted(w["name"] for w in lost.values())}


def measure_shipping(model_folder: Path, settings, repeats: int = 3) -> dict:
    """Seconds to set the model up on 2 workers, by path and by bytes, and the workers' RSS after."""
    model, metadata = load_run(model_folder)
    result = {}
    with dask_client(None, 2) as client:
        base = client.run(lambda: __import__("psutil").Process().memory_info().rss / 2**20)
        for how in ("path", "bytes", "path", "bytes") * ((repeats + 1) // 2):
            start = time.perf_counter()
            name = ship_model(client, model_folder, model, metadata, settings.text_kind, how)
            seconds = time.perf_counter() - start
            rss = client.run(lambda: __import__("psutil").Process().memory_info().rss / 2**20)
            client.unregister_worker_plugin(name)
            entry = result.setdefault(how, {"seconds": [], "rss_mb_after": []})
            entry["seconds"].append(round(seconds, 2))
            entry["rss_mb_after"].append([round(v) for v in rss.values()])
        result["rss_mb_before"] = [round(v) for v in base.values()]
        import pickle

        result["bytes_mb"] = round(len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6, 1)
        result["model_file_mb"] = round((model_folder / "model.joblib").stat().st_size / 1e6, 1)
    return result


def compare(local: Path, dask: Path) -> dict:
    a, b = pd.read_parquet(local), pd.read_parquet(dask)
    same_shape = a.shape == b.shape and list(a.columns) == list(b.columns)
    mismatched = int((a.ne(b).any(axis=1)).sum()) if same_shape else None
    return {"rows_local": len(a), "rows_dask": len(b), "same_columns": same_shape,
            "order_kept": same_shape and a["id"].tolist() == b["id"].tolist(),
            "rows_differing": mismatched, "label_mismatches": int((a["domain"] != b["domain"]).sum()),
            "identical": same_shape and a.equals(b)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--check", action="store_true", help="agreement on the distinct real texts instead")
    parser.add_argument("--kill-worker", type=float, default=0, help="with --check: kill a worker after S seconds")
    parser.add_argument("--files", type=int, default=8, help="CSV files the Dask input is cut into")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-local", action="store_true", help="Dask runs only (no local run, no comparison)")
    parser.add_argument("--models", default=str(PROJECT_DIR / "models"))
    parser.add_argument("--run")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "barometre-dask-bench.json"))
    args = parser.parse_args()
    os.environ.setdefault("BAROMETRE_LEMMA_CACHE", "off")
    folder = resolve_run(args.models, args.run)
    settings = PredictSettings.from_config(load_config(None))
    report: dict = {"model": folder.name, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="barometre-dask-bench-") as tmp:
        tmp = Path(tmp)
        texts = real_texts() if args.check else paired_texts(args.rows)
        all_csv, pattern = write_inputs(texts, tmp, args.files)
        report["rows"] = len(texts)
        if not args.no_local:
            report["local"] = run_local(folder, settings, all_csv, tmp / "local.parquet")
            report["local"]["rows_per_second"] = round(len(texts) / report["local"]["seconds"])
        print(json.dumps(report, indent=1), flush=True)
        if args.check:
            report["dask"] = run_dask(folder, settings, pattern, tmp / "dask.parquet", 2, args.kill_worker)
            report["comparison"] = compare(tmp / "local.parquet", tmp / "dask.parquet")
        else:
            report["shipping"] = measure_shipping(folder, settings)
            for n in map(int, args.workers.split(",")):
                entry = run_dask(folder, settings, pattern, tmp / f"dask{n}.parquet", n)
                entry["rows_per_second"] = round(len(texts) / entry["seconds"])
                if not args.no_local:
                    entry["comparison"] = compare(tmp / "local.parquet", tmp / f"dask{n}.parquet")
                report[f"dask_{n}_workers"] = entry
                print(json.dumps(entry), flush=True)
    report["load_average_at_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
