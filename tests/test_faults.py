"""Faults and hostile model folders, with real processes and files.

A model is loaded only when its file is the one trained (sha256 in metadata.json)
and lies inside the models folder unless its path is given; a killed predict
leaves no worker behind and its temporary output is removed by the next run;
concurrent trainings do not collide; each evaluate keeps to its own folder;
outputs follow the umask.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_config

from pipeline.cli import main
from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.io.tables import atomic_folder, read_table
from pipeline.modeling import run_folder
from pipeline.modeling.run_folder import LATEST, MODEL_FILE, load_model, load_run, save_run

SAMPLE = PROJECT_DIR / "data" / "raw" / "submissions-sample.csv"


@pytest.fixture
def models(trained, tmp_path) -> Path:
    """A copy of the trained models folder, free to tamper with."""
    return Path(shutil.copytree(trained["paths"]["models"], tmp_path / "models"))


def latest(models: Path) -> Path:
    return models / (models / LATEST).read_text().strip()


def cli(tmp_path: Path, models: Path, *args) -> int:
    config = write_config(tmp_path, models=str(models), predicted=str(tmp_path / "predicted"),
                          reports=str(tmp_path / "reports"))
    return main(["--config", str(config), "-q", *args])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


class _OpensAFile:
    """A pickle that, when loaded, creates `marker`: what a swapped model file could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_changed_model_file_is_refused_before_it_runs(models, tmp_path, capsys):
    folder = latest(models)
    assert load_model(models).run_id == folder.name  # the honest copy loads
    marker = tmp_path / "code-ran"
    (folder / MODEL_FILE).write_bytes(pickle.dumps(_OpensAFile(marker)))
    assert cli(tmp_path, models, "predict", "--input", str(SAMPLE), "--output", str(tmp_path / "o.csv")) == 2
    assert "sha256" in one_line_error(capsys)
    assert not marker.exists() and not (tmp_path / "o.csv").exists()

    # A metadata.json without the hash (older runs, or edited) is refused too.
    meta = json.loads((folder / "metadata.json").read_text())
    del meta["model_sha256"]
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(PipelineError, match="records no sha256"):
        load_model(models)
    assert not marker.exists()


def test_run_ids_and_latest_stay_inside_the_models_folder(models, tmp_path, capsys):
    run_id = latest(models).name
    outside = Path(shutil.copytree(latest(models), tmp_path / "elsewhere" / "run"))
    for pointer in ("../elsewhere/run", str(outside), ".."):
        (models / LATEST).write_text(pointer + "\n")
        with pytest.raises(PipelineError, match="not a run id"):
            load_model(models)
    (models / "link").symlink_to(outside, target_is_directory=True)
    (models / LATEST).write_text("link\n")
    with pytest.raises(PipelineError, match="leads outside"):
        load_model(models)
    for run in ("link", "..", "no-such-run"):
        assert cli(tmp_path, models, "predict", "--input", str(SAMPLE), "--run", run,
                   "--output", str(tmp_path / "o.csv")) == 2
        assert str(models) in one_line_error(capsys)

    # A folder named by its path is the user's explicit choice: loaded, and still checked.
    assert load_model(models, str(outside)).run_id == run_id
    with open(outside / MODEL_FILE, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PipelineError, match="sha256"):
        load_model(models, str(outside))


@pytest.mark.parametrize("module, name", [("pipeline.model", "BarometerModel"),  # the module is gone
                                          ("pipeline.modeling.model", "Model")])  # the class is gone
def test_a_model_of_the_old_layout_is_refused_with_retrain(models, module, name):
    folder = latest(models)
    old = b"\x80\x04c" + f"{module}\n{name}\n".encode() + b")\x81."  # a pickled instance of module.name
    (folder / MODEL_FILE).write_bytes(old)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["model_sha256"] = run_folder.sha256_of(folder / MODEL_FILE)
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(PipelineError, match=r"older version of barometre.*retrain") as err:
        load_run(folder)
    assert "\n" not in str(err.value)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cli_process(config: Path, *args, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.Popen([sys.executable, "-m", "pipeline", "--config", str(config), "-q", *args], env=env,
                            cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how, jobs", [("kill -9", 3), ("ctrl-c", 3), ("sigterm", 3), ("sigterm to the group", 3),
                                       ("sigterm", 1), ("kill -9 to a worker", 3)])
def test_workers_end_when_predict_is_killed(trained, seed, tmp_path, how, jobs):
    big = tmp_path / "big.csv"
    texts = seed["text"].tolist()
    pd.DataFrame({"titre": [f"{texts[i % len(texts)]} {i}" for i in range(60_000)]}).to_csv(big, index=False)
    out = tmp_path / "big.predictions.csv"
    parent = _cli_process(Path(trained["config_file"]), "predict", "--input", str(big), "--output", str(out),
                          "--jobs", str(jobs), start_new_session=True)  # its own process group, as in a terminal
    workers: list[int] = []
    try:
        deadline = time.time() + 120  # a ceiling for a loaded machine: the workers start within seconds
        while len(workers) < jobs - 1 and time.time() < deadline and parent.poll() is None:
            time.sleep(0.05)
            workers = _children(parent.pid)
        assert len(workers) >= jobs - 1, f"no worker process appeared: {parent.stderr.read()}"
        # Signal once rows are being written, not while the workers are still being forked
        # (a Ctrl-C landing inside fork() is swallowed by Python itself).
        while time.time() < deadline and parent.poll() is None and not any(
                p.stat().st_size > 0 for p in tmp_path.glob(f".{out.name}.{parent.pid}.*.part")):
            time.sleep(0.05)
        assert parent.poll() is None  # killed while predicting
        if how == "kill -9":
            os.kill(parent.pid, signal.SIGKILL)
        elif how == "kill -9 to a worker":  # as the out-of-memory killer does
            os.kill(workers[0], signal.SIGKILL)
        elif how == "sigterm":  # kill: the parent alone
            os.kill(parent.pid, signal.SIGTERM)
        elif how == "sigterm to the group":  # a scheduler stopping the job: the workers die of it at once
            os.killpg(parent.pid, signal.SIGTERM)
        else:  # Ctrl-C signals the whole foreground process group
            os.killpg(parent.pid, signal.SIGINT)
        signalled = time.time()
        err = parent.communicate(timeout=60)[1].decode()
        ended = time.time() - signalled
        deadline = time.time() + 10
        while any(map(_running, workers)) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(map(_running, workers)), "worker processes outlived their parent"
        left = [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}.{parent.pid}.")]
        if how == "kill -9":
            assert left  # no cleanup runs on kill -9: the next run removes it (next test)
        elif how == "kill -9 to a worker":
            assert not left and not out.exists(), err
            assert parent.returncode == 1 and ended < 30, (parent.returncode, f"{ended:.0f} s", err)
            assert err.strip().startswith("error: a worker process of predict ended in the middle of the run "
                                          "(killed by signal 9)"), err
            assert "--jobs 1" in err and len(err.strip().splitlines()) == 1, err
        elif how.startswith("sigterm"):
            # Stopped between two parts, the workers killed rather than waited on: one line, exit 128 + 15.
            assert not left and not out.exists(), err
            assert parent.returncode == 143 and err.strip() == "interrupted: nothing was written", err
            assert ended < 30, f"{ended:.0f} s to stop"
        else:
            # Interrupted: one line, exit 130. Python itself sometimes loses a SIGINT that lands in a fork or a
            # lock of the worker pool; the run then ends normally (seen once in a few dozen runs): either way,
            # no half-written output and no worker left.
            assert not left, err
            if parent.returncode == 0:
                assert out.is_file() and err.strip() == "", err
            else:
                assert parent.returncode == 130 and err.strip() == "interrupted: nothing was written", err
    finally:
        for pid in workers:  # only if the test failed: never leave them running
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "sigterm to the group", "ctrl-c"])
def test_a_training_stopped_while_writing_its_run_folder_leaves_nothing_and_latest_as_it_was(models, seed, tmp_path,
                                                                                          how):
    """A scheduler's SIGTERM once killed train outright, leaving its half-written run folder under models/."""
    (tmp_path / "labeled").mkdir()
    seed.groupby("domain", group_keys=False).head(8).to_csv(tmp_path / "labeled" / "seed.csv", index=False)
    config = write_config(tmp_path, models=str(models), labeled=str(tmp_path / "labeled"))
    before = sorted(p.name for p in models.iterdir())
    latest_before = (models / LATEST).read_text()
    # The model card's writer waits, so that the signal lands with model.joblib written, the folder not renamed.
    script = ("import sys, time\nfrom pipeline.modeling import card\n"
              "def waits(*args):\n    print('writing', flush=True)\n    time.sleep(120)\n"
              "card.model_card = waits\nfrom pipeline.cli import main\n"
              "sys.exit(main(['--config', sys.argv[1], '-q', 'train', '--cv-folds', '2']))\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    train = subprocess.Popen([sys.executable, "-c", script, str(config)], cwd=PROJECT_DIR, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert train.stdout.readline() == "writing\n", train.stderr.read()
        assert any(p.name.endswith(".part") for p in models.iterdir())  # the run folder, half-written
        if how == "sigterm":
            train.send_signal(signal.SIGTERM)
        else:
            os.killpg(train.pid, signal.SIGTERM if how == "sigterm to the group" else signal.SIGINT)
        err = train.communicate(timeout=60)[1]
    finally:
        if train.poll() is None:
            train.kill()
    assert train.returncode == (130 if how == "ctrl-c" else 143), err
    assert err.strip().splitlines()[-1] == "interrupted: nothing was written", err  # after training's warnings
    assert sorted(p.name for p in models.iterdir()) == before  # no temporary folder left
    assert (models / LATEST).read_text() == latest_before
    load_model(models)  # and the run it names still loads


def _workers_killed_sending_results(then: str) -> subprocess.CompletedProcess:
    """Run `then` in a fresh process, after killing a bare pool's workers while they send large results: each
    leaves half a message in the results pipe, and the pool's thread waits forever for the rest."""
    script = ("import multiprocessing, os, signal, time\nimport numpy as np\n"
              "from concurrent.futures import ProcessPoolExecutor\n"
              "from concurrent.futures.process import BrokenProcessPool\n"
              "from pipeline.modeling.workers import _end_at_once, _result\n"
              "pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context('fork'))\n"
              "futures = [pool.submit(np.zeros, 4_000_000) for _ in range(20)]\n"
              "futures[0].result()\ntime.sleep(0.05)\n"
              "for pid in list(pool._processes):\n    os.kill(pid, signal.SIGKILL)\n" + then)
    return subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)}, timeout=60)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="forks")
def test_a_pool_whose_workers_died_sending_results_ends_at_once():
    # After a SIGTERM to the whole group: without _end_at_once, Python's exit waits on the pool's thread forever.
    # The pool's thread has ended when it returns: Python's exit would otherwise race it on a pipe the thread
    # closes ("Bad file descriptor" printed after the run's last line).
    ended = _workers_killed_sending_results("thread = pool._executor_manager_thread\n_end_at_once(pool)\n"
                                            "print('alive' if thread.is_alive() else 'ended')\n")
    assert ended.returncode == 0 and ended.stdout.strip() == "ended" and not ended.stderr, ended.stderr


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="forks")
def test_a_worker_that_died_sending_a_result_ends_the_wait():
    # Killed by no signal of the run (the out-of-memory killer): no future ever completes, so the wait
    # itself must notice the death.
    ended = _workers_killed_sending_results(
        "try:\n    _result(futures[-1], pool)\nexcept BrokenProcessPool:\n    print('broken')\n_end_at_once(pool)\n")
    assert ended.returncode == 0 and ended.stdout.strip() == "broken", ended.stderr


def test_the_next_run_removes_what_a_killed_run_left(trained, tmp_path):
    out, folder = tmp_path / "o.csv", tmp_path / "evaluation" / "sources"
    run = tmp_path / "models" / "20260101T000000.000000Z-dead00"  # a training killed while saving
    script = ("import sys, time\nfrom pipeline.io.tables import atomic_folder, atomic_output\n"
              "with atomic_output(sys.argv[1]) as t, atomic_folder(sys.argv[2]) as f, atomic_folder(sys.argv[3]) as r:\n"
              "    t.write_text('half'); (f / 'half.json').write_text('{'); (r / 'model.joblib').write_text('')\n"
              "    print(t, f, r, flush=True); time.sleep(60)\n")
    killed = subprocess.Popen([sys.executable, "-c", script, str(out), str(folder), str(run)], stdout=subprocess.PIPE,
                              text=True, cwd=PROJECT_DIR, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    stale = [Path(p) for p in killed.stdout.readline().split()]
    killed.kill()
    killed.wait()
    assert len(stale) == 3 and all(p.exists() for p in stale)
    alive = tmp_path / f".{out.name}.{os.getpid()}.x.part"  # a run still going (this one): left alone
    alive.write_text("mine")

    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(SAMPLE),
                 "--output", str(out)]) == 0
    with atomic_folder(folder) as tmp:
        (tmp / "done.json").write_text("{}")
    model, metadata = load_run(latest(Path(trained["paths"]["models"])))
    model.run_id = run_folder.new_run_id()
    save_run(tmp_path / "models", model, metadata, {}, {})
    assert not any(p.exists() for p in stale)
    assert alive.exists() and len(read_table(out)) == len(read_table(SAMPLE))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, alive.name, "evaluation", "models"])
    assert [p.name for p in folder.parent.iterdir()] == ["sources"]
    assert sorted(p.name for p in run.parent.iterdir()) == sorted([LATEST, model.run_id])


def _train_at_once(models: str, model, metadata: dict, barrier, results) -> None:
    barrier.wait()
    ids = [run_folder.new_run_id() for _ in range(200)]
    model.run_id = run_folder.new_run_id()
    save_run(models, model, dict(metadata, run_id=model.run_id), {}, {"MODEL_CARD.md": lambda p: p.write_text("card")})
    results.put((model.run_id, ids))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="forks")
def test_concurrent_trainings_get_distinct_runs_and_one_latest(trained, tmp_path):
    model, metadata = load_run(latest(Path(trained["paths"]["models"])))
    models = tmp_path / "models"
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_train_at_once, args=(str(models), model, metadata, barrier, results))
             for _ in range(4)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    runs = [r for r, _ in got]
    all_ids = [i for _, ids in got for i in ids] + runs
    assert len(set(all_ids)) == len(all_ids)  # distinct across processes started within the same instant
    assert all(ids == sorted(ids) for _, ids in got)  # and sortable by time
    assert sorted(p.name for p in models.iterdir()) == sorted(runs + [LATEST])  # no temporary left
    assert (models / LATEST).read_text().strip() in runs
    for run in runs:
        assert load_run(models / run)[0].run_id == run


def _write_folder_many_times(folder: str, barrier, n: int) -> None:
    barrier.wait()
    for i in range(n):
        with atomic_folder(folder) as tmp:
            for name in ("a.json", "b.json"):
                (tmp / name).write_text(f"{os.getpid()} {i}")


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="forks")
def test_concurrent_writes_of_one_folder_leave_one_whole_folder(tmp_path):
    """Two evaluations of the same file at once: the last to finish wins, whole; neither fails."""
    folder = tmp_path / "evaluation" / "labeled-x"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_write_folder_many_times, args=(str(folder), barrier, 30)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [p.name for p in folder.parent.iterdir()] == ["labeled-x"]  # no temporary, no old copy left
    a, b = ((folder / name).read_text() for name in ("a.json", "b.json"))
    assert a == b  # both files from one and the same write


def test_a_stop_between_moving_the_old_folder_aside_and_renaming_the_new_one_loses_neither(tmp_path, monkeypatch):
    """Ctrl-C landing right after `report --force` moved the previous report aside: no report was left in
    place, and the previous one, under a temporary name, was removed as a killed run's by the next run."""
    folder = tmp_path / "reports" / "r"
    with atomic_folder(folder) as tmp:
        (tmp / "page.html").write_text("earlier")
    real_replace = os.replace

    def stopped_after_the_first_rename(src, dst):
        real_replace(src, dst)
        if Path(src) == folder:  # the previous folder now aside: Ctrl-C comes
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", stopped_after_the_first_rename)
    # Another thread, as a run has (a pool's, tqdm's): the system may hand it the signal, so that masking
    # it in this thread alone once let it act between the two renames (seen in the full suite).
    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)
    other.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with atomic_folder(folder) as tmp:
                (tmp / "page.html").write_text("new")
    finally:
        idle.set()
    monkeypatch.undo()
    assert (folder / "page.html").read_text() == "new"  # the swap ended before the stop acted


def test_a_stop_during_a_folders_swap_says_the_folder_was_written(trained, seed, tmp_path, capsys, monkeypatch):
    """The stop waits for the swap to end, so the new folder is in place: the line said "nothing was written",
    and the previous folder, moved aside, stayed under a temporary name."""
    from pipeline.io import temps

    config = write_config(tmp_path, models=trained["paths"]["models"], reports=str(tmp_path / "reports"))
    hand = tmp_path / "hand.csv"
    seed.groupby("domain", group_keys=False).nth([30, 31]).to_csv(hand, index=False)
    run = ["--config", str(config), "-q", "evaluate", "--labeled", str(hand), "--force"]
    assert main(run) == 0
    real_swap = temps._swap

    def stopped_in_the_swap(*args):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the folders are swapped
        real_swap(*args)

    monkeypatch.setattr(temps, "_swap", stopped_in_the_swap)
    capsys.readouterr()
    assert main(run) == 130
    folder = tmp_path / "reports" / "evaluation" / "labeled-hand"
    assert capsys.readouterr().err.strip() == (f"interrupted: {folder} written in full before the stop; "
                                               "nothing else was written")
    assert [p.name for p in folder.parent.iterdir()] == ["labeled-hand"]  # no previous folder left aside
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.csv", "scores.json"]


def test_each_evaluate_writes_its_own_folder(trained, seed, tmp_path):
    text = Path(trained["config_file"]).read_text()
    text = text.replace("cv_repeats = 3", "cv_repeats = 1").replace("cv_folds = 5", "cv_folds = 3")
    config = tmp_path / "pipeline.toml"
    config.write_text(text.replace(trained["paths"]["reports"], str(tmp_path / "reports")))
    hand = tmp_path / "hand.csv"
    seed.groupby("domain", group_keys=False).nth([30, 31]).to_csv(hand, index=False)
    other = tmp_path / "other.csv"
    seed.groupby("domain", group_keys=False).nth([32, 33]).to_csv(other, index=False)

    run = ["--config", str(config), "-q", "evaluate"]
    assert main([*run, "--labeled", str(hand)]) == 0
    assert main([*run, "--recipe", "svm"]) == 0
    assert main([*run, "--labeled", str(other)]) == 0
    evaluation = tmp_path / "reports" / "evaluation"
    assert sorted(p.name for p in evaluation.iterdir()) == ["labeled-hand", "labeled-other", "sources"]
    assert (evaluation / "labeled-hand" / "scores.json").is_file()
    assert (evaluation / "sources" / "SUMMARY.md").is_file()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_outputs_follow_the_umask(trained, tmp_path, umask):
    model, metadata = load_run(latest(Path(trained["paths"]["models"])))
    model.run_id = run_folder.new_run_id()
    previous = os.umask(umask)
    try:
        assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(SAMPLE),
                     "--output", str(tmp_path / "o.csv")]) == 0
        folder = save_run(tmp_path / "models", model, metadata, {}, {})
        with atomic_folder(tmp_path / "evaluation") as tmp:
            (tmp / "a.json").write_text("{}")
    finally:
        os.umask(previous)
    assert _mode(folder) == _mode(tmp_path / "evaluation") == 0o777 & ~umask
    files = [tmp_path / "o.csv", folder / MODEL_FILE, folder / "metadata.json", tmp_path / "models" / LATEST,
             tmp_path / "evaluation" / "a.json"]
    assert {_mode(p) for p in files} == {0o666 & ~umask}


@pytest.mark.parametrize("name", ["metrics.json", "oof.npz", "MODEL_CARD.md"])
@pytest.mark.parametrize("damage", ["edit", "delete"])
def test_every_file_of_a_run_folder_is_checked_against_its_sha256(models, tmp_path, capsys, caplog, name, damage):
    """metrics.json and oof.npz give the report's figures: a byte changed in them would change a published
    number without a word. predict, evaluate-quantifier and the report's read of the run refuse the folder."""
    from pipeline.commands.report import model_runs

    folder = latest(models)
    assert set(json.loads((folder / "metadata.json").read_text())["files"]) == \
        {p.name for p in folder.iterdir()} - {"metadata.json"}  # training records every file
    if damage == "edit":
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit: metrics.json may stay valid JSON with another number
        (folder / name).write_bytes(bytes(data))
    else:
        (folder / name).unlink()
    out = tmp_path / "o.csv"
    for args in (["predict", "--input", str(SAMPLE), "--output", str(out)], ["evaluate-quantifier"]):
        assert cli(tmp_path, models, *args) == 2
        err = one_line_error(capsys)
        assert f"{folder}/{name}" in err and "make train" in err and "--run" in err, err
    assert not out.exists() and not (tmp_path / "reports").exists()
    frame = pd.DataFrame({"model_run_id": [folder.name]})
    with pytest.raises(PipelineError, match=name.replace(".", r"\.")):
        model_runs({"paths": {"models": str(models)}}, frame)


def test_a_run_folder_saved_before_the_files_sha256_loads_and_says_so_once(models, caplog):
    folder = latest(models)
    meta = json.loads((folder / "metadata.json").read_text())
    del meta["files"]
    (folder / "metadata.json").write_text(json.dumps(meta))
    with caplog.at_level("INFO", logger="pipeline.io.files"):
        for _ in range(2):
            assert load_run(folder)[0].run_id == folder.name
    said = [r.getMessage() for r in caplog.records if "not verified" in r.getMessage()]
    assert len(said) == 1 and str(folder) in said[0]
    # Its model file is still checked.
    with open(folder / MODEL_FILE, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PipelineError, match="sha256"):
        load_run(folder)
