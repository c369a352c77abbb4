"""Measuring on this machine: timing, free cores, and a command in a fresh process with its peak memory."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from pipeline.features.lemma_cache import CACHE_ENV

PROJECT = Path(__file__).resolve().parent.parent


def words(texts) -> int:
    return sum(len(t.split()) for t in texts)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def load_avg() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


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


def child_env(cache: str | Path | None = "off") -> dict:
    env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env[CACHE_ENV] = str(cache) if cache else "off"
    env.setdefault("TQDM_DISABLE", "1")
    return env


def machine() -> dict:
    import sklearn
    import spacy
    from threadpoolctl import threadpool_info

    return {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count(),
            "spacy": spacy.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "threadpools": [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
                            for i in threadpool_info()]}


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
