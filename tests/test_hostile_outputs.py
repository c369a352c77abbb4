"""Hostile outputs and faults: formula cells, umask, killed runs, impossible paths, permissions,
the command line's error lines, and the Makefile's variables (see test_hostile_inputs.py for inputs).
"""
import contextlib
import errno
import gc
import itertools
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.io.options import io_options
from pipeline.io.tables import TableWriter, atomic_folder, atomic_output, read_output, read_table


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def cli(config, *args):
    return main(["--config", config["config_file"], "-q", *args])


def one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


# -- outputs ------------------------------------------------------------------------------------
def test_csv_outputs_neutralise_formula_cells_other_formats_keep_them(tmp_path):
    cells = ["=HYPERLINK(\"http://x\")", "+A1", "-1+1", "@SUM(A1)", "\tx", "-3.5", "-1 234,5 %", "ok"]
    frame = pd.DataFrame({"texte": cells, "=col": [1.5] * len(cells)})
    for name in ("o.csv", "o.tsv", "o.parquet", "o.xlsx", "raw.csv"):
        with atomic_output(tmp_path / name) as tmp, io_options(raw_cells=name == "raw.csv"):
            writer = TableWriter(tmp, TableWriter.kind_of(tmp_path / name))
            writer.write(frame)
            writer.close()
    safe = ["'" + c for c in cells[:5]] + cells[5:]
    assert pd.read_csv(tmp_path / "o.csv", dtype=str)["texte"].tolist() == safe
    assert list(pd.read_csv(tmp_path / "o.csv").columns) == ["texte", "'=col"]
    tsv = (tmp_path / "o.tsv").read_text(encoding="utf-8")
    assert tsv.splitlines()[0] == "texte\t'=col" and pd.read_csv(tmp_path / "o.tsv", sep="\t", dtype=str)[
        "texte"].tolist() == safe
    assert pd.read_csv(tmp_path / "raw.csv", dtype=str, keep_default_na=False)["texte"].tolist()[:4] == cells[:4]
    assert pd.read_parquet(tmp_path / "o.parquet")["texte"].tolist() == cells
    for name in ("o.csv", "o.tsv", "o.parquet"):  # review and report read the texts back as they were
        back = read_output(tmp_path / name)
        assert back["texte"].tolist() == cells and list(back.columns) == ["texte", "=col"], name
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "o.xlsx").active
    assert [c.value for c in sheet["A"]][1:] == cells and {c.data_type for c in sheet["A"]} == {"s"}


def test_a_parquet_output_column_empty_in_the_first_part_takes_the_type_of_its_later_values(tmp_path):
    """The first part fixed the file's types: a column with only nulls there (a flag filled in later rows) could
    not take its values, and predict stopped with a traceback after labeling."""
    import pyarrow.parquet as pq

    parts = [pd.DataFrame({"code": [None, None], "flag": [None, None], "t": ["a", "b"]}),
             pd.DataFrame({"code": pd.Series([1004, None], dtype=object), "flag": [True, False], "t": ["c", "d"]})]
    with atomic_output(tmp_path / "o.parquet") as tmp, TableWriter(tmp, "parquet") as writer:
        for part in parts:
            writer.write(part)
    back = pq.read_table(tmp_path / "o.parquet").to_pydict()
    assert back["code"] == [None, None, 1004, None] and back["flag"] == [None, None, True, False]
    assert back["t"] == ["a", "b", "c", "d"] and [p.name for p in tmp_path.iterdir()] == ["o.parquet"]


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "o.csv") as tmp:
            TableWriter(tmp, "csv").write(pd.DataFrame({"a": ["x"]}))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.csv").stat().st_mode) == 0o640  # not mkstemp's 0600


def test_a_killed_runs_temporary_file_is_removed_by_the_next_run(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names a run that is over
    stale = tmp_path / f".o.csv.{gone.pid}.abc.part"
    stale.write_text("half")
    alive = tmp_path / f".o.csv.{os.getpid()}.def.part"  # a run still going: kept
    alive.write_text("busy")
    with atomic_output(tmp_path / "o.csv") as tmp:
        TableWriter(tmp, "csv").write(pd.DataFrame({"a": ["x"]}))
    assert not stale.exists() and alive.exists()


def test_a_run_killed_while_a_parquet_output_is_rewritten_leaves_nothing_the_next_run_keeps(tmp_path):
    """A column empty in the first part makes the writer rewrite the rows written so far beside its temporary
    file; a run killed then (kill -9: no cleanup runs) left that copy where no later run would remove it."""
    script = f"""
import os, pandas as pd, pyarrow.parquet as pq
from pipeline.io.tables import TableWriter, atomic_output
def die(*args, **kwargs):
    os._exit(9)  # as a kill -9 in the middle of the rewrite
with atomic_output({str(tmp_path / "o.parquet")!r}) as tmp, TableWriter(tmp, "parquet") as writer:
    writer.write(pd.DataFrame({{"flag": [None], "t": ["a"]}}))
    pq.ParquetWriter.write_batch = die
    writer.write(pd.DataFrame({{"flag": [True], "t": ["b"]}}))
"""
    assert subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR).returncode == 9
    assert len(list(tmp_path.iterdir())) == 2  # the temporary and the rows being rewritten
    with atomic_output(tmp_path / "o.parquet") as tmp:
        TableWriter(tmp, "parquet").write(pd.DataFrame({"t": ["x"]}))
    assert [p.name for p in tmp_path.iterdir()] == ["o.parquet"]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what the system says, naming no file


def test_a_full_disk_is_one_line_naming_the_output_and_the_earlier_one_is_kept(trained, tmp_path, capsys,
                                                                              monkeypatch):
    out = tmp_path / "out.csv"
    out.write_text("earlier,run\n")
    monkeypatch.setattr(pd.DataFrame, "to_csv", _disk_full)
    assert cli(trained, "predict", "--input", str(PROJECT_DIR / "data" / "raw" / "submissions-sample.csv"),
               "--output", str(out)) == 2
    one_line_error(capsys, f"{out}: no space left on the device; nothing was written and the earlier out.csv "
                           "is unchanged")
    assert out.read_text() == "earlier,run\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    folder = tmp_path / "report"
    with pytest.raises(PipelineError) as raised:
        with atomic_folder(folder) as tmp:
            _disk_full(tmp / "page.html")
    # A new output has no earlier one: a training's new run folder once claimed "an earlier <run id> is unchanged".
    assert str(raised.value) == (f"{folder}: no space left on the device; nothing was written: free some space "
                                 "or write elsewhere")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@contextlib.contextmanager
def small_tmpfs(tmp_path, size="64k", read_only=False):
    """A tmpfs of `size` at tmp_path/small (`read_only`: mounted so, refused even to root), unmounted after;
    the test skips where mounting is not permitted."""
    point = tmp_path / "small"
    point.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                                                        str(point)], capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_a_real_full_disk_is_one_line_naming_the_output(tmp_path):
    with small_tmpfs(tmp_path) as small:
        out = small / "o.csv"
        with pytest.raises(PipelineError, match=f"{out}: no space left on the device"):
            with atomic_output(out) as tmp:
                TableWriter(tmp, "csv").write(pd.DataFrame({"a": ["x" * 1000] * 200}))
        assert list(small.iterdir()) == []


# Each command that writes only at its end, the option naming its output, and what its computation starts with.
WRITE_AT_THE_END = [
    (["train"], lambda folder: ["--models", str(folder)], "pipeline.commands.train.load_training_data"),
    (["audit"], lambda folder: ["--output", str(folder / "audit.xlsx")], "pipeline.commands.audit.load_training_data"),
    (["evaluate"], None, "pipeline.commands.evaluate.load_training_data"),
    (["evaluate-quantifier"], None, "pipeline.commands.quantify.load_oof"),
    (["simulate-review", "--extra", "."], lambda folder: ["--output", str(folder / "sim")],
     "pipeline.commands.simulate_review.load_training_data"),
]


@pytest.mark.parametrize("command, output, starts", WRITE_AT_THE_END, ids=[c[0][0] for c in WRITE_AT_THE_END])
@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_a_folder_that_cannot_be_written_stops_a_long_command_before_it_computes(trained, tmp_path, capsys,
                                                                                 monkeypatch, command, output,
                                                                                 starts, fault):
    """train said so only at its end, after the training (with --extra, a quarter of an hour later); audit,
    evaluate, evaluate-quantifier and simulate-review likewise. Checked by writing there, as root too."""
    from tests.conftest import write_config

    def computing(*args, **kwargs):
        raise AssertionError("the computation started before the output was checked")

    monkeypatch.setattr(starts, computing)
    with small_tmpfs(tmp_path, read_only=fault == "read-only") as folder:
        if fault == "full":
            (folder / "filler").write_bytes(b"x" * 64 * 1024)
        config = write_config(tmp_path, labeled=trained["paths"]["labeled"], models=trained["paths"]["models"],
                              reports=str(folder))
        options = output(folder) if output else []
        assert main(["--config", str(config), "-q", *command, *options]) == 2
        err = one_line_error(capsys, str(folder))
        assert ("Read-only file system" if fault == "read-only" else "no space left on the device") in err, err
        assert [p.name for p in folder.rglob("*") if p.is_file()] == ([] if fault == "read-only" else ["filler"])


def test_a_workbook_that_fills_the_disk_is_one_line_and_nothing_printed_after(tmp_path, monkeypatch):
    """openpyxl left its zip archive open on a failed save: closed at exit, it failed again and printed a
    traceback under the error line."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with small_tmpfs(tmp_path) as small:
        out = small / "o.xlsx"
        try:  # not pytest.raises: its record of the traceback would keep the archive alive
            with atomic_output(out) as tmp, TableWriter(tmp, "xlsx") as writer:
                writer.write(pd.DataFrame({"a": [os.urandom(300).hex() for _ in range(400)]}))
        except PipelineError as exc:
            message = str(exc)
        assert message.startswith(f"{out}: no space left on the device"), message
        gc.collect()  # as at exit
        assert list(small.iterdir()) == []
    assert unraisable == []


@pytest.mark.parametrize("make_output, message", [
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: tmp / "file.csv" / "out.csv", "file.csv is a file, not a folder"),
])
def test_impossible_outputs_are_one_line(tmp_path, make_output, message):
    (tmp_path / "file.csv").write_text("x")
    with pytest.raises(PipelineError, match=message):
        with atomic_output(make_output(tmp_path)):
            pass


def _as_nobody(check):
    """Run `check` where permissions apply: as root, in a child process turned into user nobody."""
    if os.geteuid() != 0:
        return check()
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = check()
        except BaseException as exc:
            result = f"{type(exc).__name__}: {exc}"
        os.write(write_end, str(result).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as fh:
        result = fh.read()
    os.waitpid(pid, 0)
    return result


def test_unreadable_input_and_read_only_folder_are_one_line_as_a_user():
    base = tempfile.mkdtemp(prefix="hostile-")  # outside pytest's 0700 folder: user nobody may enter
    try:
        os.chmod(base, 0o755)
        secret = os.path.join(base, "secret.csv")
        with open(secret, "w") as fh:
            fh.write("titre\nx\n")
        os.chmod(secret, 0o000)
        locked = os.path.join(base, "locked")
        os.mkdir(locked, 0o555)
        os.chmod(locked, 0o555)

        def check():
            messages = []
            for action in (lambda: read_table(secret),
                           lambda: atomic_output(os.path.join(locked, "o.csv")).__enter__()):
                try:
                    action()
                    messages.append("no error")
                except PipelineError as exc:
                    messages.append(str(exc))
            return " | ".join(messages)

        result = _as_nobody(check)
        assert "secret.csv: cannot be read (permission denied)" in result, result
        assert "locked: cannot write in this folder (permission denied)" in result, result
    finally:
        os.chmod(os.path.join(base, "locked"), 0o755)
        shutil.rmtree(base)


# -- through the command line, with a trained model -----------------------------------------------
def test_predict_on_hostile_files_writes_right_or_says_one_line(trained, tmp_path, capsys):
    frame = pd.DataFrame({"titre": pd.Categorical(["=cmd|' /C calc'!A0", None, "Vidéoprotection"]),
                          2024: ["Voirie", "École", "Parc"]}, index=pd.Index(["a", "b", "c"], name="id"))
    frame.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.csv"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(out),
               "--text-col", "titre") == 0
    result = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert result["id"].tolist() == ["a", "b", "c"] and result["titre"][0] == "'=cmd|' /C calc'!A0"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "raw.csv"),
               "--text-col", "2024", "--raw-cells") == 0  # a numeric column name, given as text
    assert pd.read_csv(tmp_path / "raw.csv", dtype=str)["titre"][0] == "=cmd|' /C calc'!A0"
    write(tmp_path, "header.csv", b"titre;code\n")
    assert cli(trained, "predict", "--input", str(tmp_path / "header.csv"), "--output", str(tmp_path / "h.csv")) == 2
    one_line_error(capsys, "header.csv: the file has a header but no rows")
    assert not (tmp_path / "h.csv").exists()
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path)) == 2
    one_line_error(capsys, "must end in .csv, .tsv, .parquet or .xlsx")


@pytest.mark.parametrize("data, place", [(b"titre\nok\nbad\x01 titre\n",
                                          "row 3, column 1 ('titre'): a control character Excel cannot hold, in "
                                          "'bad\\x01 titre'"),
                                         (b"titre,b\x02d\nok,x\n",
                                          "row 1, column 2 ('b\\x02d'): a control character Excel cannot hold")])
def test_a_control_character_in_an_xlsx_output_is_one_line_and_no_file(trained, tmp_path, data, place):
    """Excel holds no control character: one line naming the file, row and column, exit 2, nothing
    written, and no "Exception ignored" from the abandoned workbook as the process ends."""
    import sys

    source, out = write(tmp_path, "in.csv", data), tmp_path / "out.xlsx"
    run = subprocess.run([sys.executable, "-m", "pipeline", "--config", trained["config_file"], "-q", "predict",
                          "--input", str(source), "--output", str(out), "--text-col", "titre"], capture_output=True,
                         text=True, cwd=PROJECT_DIR, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    assert run.returncode == 2 and run.stderr.strip() == f"error: {out}, {place}; write .csv or .parquet", run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_text_longer_than_an_excel_cell_in_an_xlsx_output_is_one_line_and_no_file(trained, tmp_path, capsys):
    """Excel holds 32,767 characters a cell and openpyxl cut a longer text there silently: refused instead,
    naming the row and column; a CSV output holds it whole."""
    long = "Vidéoprotection " + "x" * 40_000
    source, out = write(tmp_path, "in.csv", f"titre\nok\n{long}\n".encode()), tmp_path / "out.xlsx"
    assert cli(trained, "predict", "--input", str(source), "--output", str(out), "--text-col", "titre") == 2
    assert one_line_error(capsys) == (f"error: {out}, row 3, column 1 ('titre'): 40,016 characters, more than the "
                                      f"32,767 an Excel cell holds, starting {long[:40]!r}; write .csv or .parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
    assert cli(trained, "predict", "--input", str(source), "--output", str(tmp_path / "out.csv"),
               "--text-col", "titre") == 0
    assert pd.read_csv(tmp_path / "out.csv")["titre"][1] == long


def test_labeling_a_predictions_file_again_replaces_its_predictions(trained, tmp_path, capsys):
    source = write(tmp_path, "in.csv", "titre\nVidéoprotection de la mairie\nRéfection de la voirie\n".encode())
    first = tmp_path / "round0.csv"
    assert cli(trained, "predict", "--input", str(source), "--output", str(first), "--text-col", "titre") == 0
    columns = pd.read_csv(first).columns.tolist()
    source = first
    for i, suffix in enumerate((".csv", ".parquet", ".csv", ".xlsx"), 1):
        out = tmp_path / f"round{i}{suffix}"
        assert cli(trained, "predict", "--input", str(source), "--output", str(out), "--text-col", "titre") == 0
        assert read_table(out).columns.tolist() == columns, suffix
        source = out
    assert read_table(source)["titre"].tolist() == ["Vidéoprotection de la mairie", "Réfection de la voirie"]


def test_relabeled_predictions_are_the_ones_counted_and_reported(trained, tmp_path, caplog, labels):
    from pipeline.io.predictions import read_predictions_file
    from pipeline.report.prepare import prepare_predictions

    old = pd.DataFrame({"titre": ["Vidéoprotection de la mairie", "Réfection de la voirie"], "domain": "culture",
                        "confidence": 0.1, "proba_culture": 0.1, "digital": "no", "needs_review": True,
                        "review_threshold": 0.5, "model_run_id": "old-run"})
    old.to_parquet(tmp_path / "old.parquet", index=False)
    out = tmp_path / "new.parquet"
    args = ["--config", trained["config_file"], "predict", "--input", str(tmp_path / "old.parquet"),
            "--output", str(out), "--threshold", "0"]
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    err = caplog.text
    assert "0 flagged needs_review" in err and "replaced by the new ones" in err and "proba_culture" in err
    new = pd.read_parquet(out)
    assert not [c for c in new.columns if c.startswith("pred_")] and list(new.columns[:2]) == ["titre", "domain"]
    assert not new["needs_review"].any() and (new["model_run_id"] != "old-run").all()
    assert (prepare_predictions(read_predictions_file(out), labels)["domain"] == new["domain"]).all()


def test_an_input_column_of_a_predicted_name_is_kept_under_another_name(trained, tmp_path, capsys, labels):
    from pipeline.io.predictions import read_predictions_file
    from pipeline.report.prepare import prepare_predictions

    write(tmp_path, "hand.csv", "titre,domain,digital\nVidéoprotection de la mairie,zz,oui\n".encode())
    assert cli(trained, "predict", "--input", str(tmp_path / "hand.csv"), "--output", str(tmp_path / "p.csv")) == 0
    out = pd.read_csv(tmp_path / "p.csv", dtype=str)
    assert out[["input_domain", "input_digital"]].iloc[0].tolist() == ["zz", "oui"]
    assert list(out.columns[:4]) == ["titre", "input_domain", "input_digital", "domain"]
    assert prepare_predictions(read_predictions_file(tmp_path / "p.csv"), labels)["domain"][0] in labels.codes
    # a file the earlier predict wrote, with pred_<name> columns, reads the same way
    legacy = out.rename(columns={"input_domain": "domain", "input_digital": "digital", "domain": "pred_domain",
                                 "digital": "pred_digital", "model_run_id": "pred_model_run_id"})
    legacy.to_csv(tmp_path / "legacy.csv", index=False)
    back = read_predictions_file(tmp_path / "legacy.csv")
    assert back[["input_domain", "domain", "model_run_id"]].equals(out[["input_domain", "domain", "model_run_id"]])


def test_an_earlier_evaluation_of_a_labeled_file_is_replaced_only_with_force(trained, seed, tmp_path, capsys):
    """evaluate --labeled replaced reports/evaluation/labeled-<file>/ silently (another model's scores, or another
    folder's file of that name): refused in one line unless --force, as `report` does; never with files an
    evaluation does not write."""
    hand = tmp_path / "hand_again.csv"
    seed.groupby("domain", group_keys=False).nth([30, 31]).to_csv(hand, index=False)
    folder = Path(trained["paths"]["reports"]) / "evaluation" / "labeled-hand_again"
    assert cli(trained, "evaluate", "--labeled", str(hand)) == 0
    capsys.readouterr()
    first = (folder / "scores.json").read_text()
    (folder / "scores.json").write_text(first + " ")  # marks the earlier evaluation
    assert cli(trained, "evaluate", "--labeled", str(hand)) == 2
    assert one_line_error(capsys) == f"error: {folder} already exists: give --force (make: FORCE=yes) to replace it"
    (folder / "notes.txt").write_text("mine")
    assert cli(trained, "evaluate", "--labeled", str(hand), "--force") == 2
    assert one_line_error(capsys) == (f"error: {folder} holds files an evaluation does not write (notes.txt): move "
                                      f"them away first, nothing is deleted silently")
    assert (folder / "scores.json").read_text() == first + " " and (folder / "notes.txt").exists()
    (folder / "notes.txt").unlink()
    assert cli(trained, "evaluate", "--labeled", str(hand), "--force") == 0
    assert (folder / "scores.json").read_text() == first
    assert sorted(p.name for p in folder.iterdir()) == ["predictions.csv", "scores.json"]


OUT_OF_RANGE = ("review threshold", "[predict] review_threshold): give a number from 0 to 1")


@pytest.mark.parametrize("where, value, says", [
    ("cli", "1.5", OUT_OF_RANGE), ("cli", "-0.2", OUT_OF_RANGE), ("cli", "nan", OUT_OF_RANGE),
    ("config", "2", OUT_OF_RANGE),
    ("config", '"high"', ("[predict] review_threshold = 'high' is a quoted text; give a number or the word \"model\"",)),
])
def test_a_review_threshold_outside_0_to_1_is_refused(trained, tmp_path, capsys, where, value, says):
    write(tmp_path, "in.csv", "titre\nVidéoprotection de la mairie\n".encode())
    config = dict(trained)
    if where == "config":
        text = open(trained["config_file"], encoding="utf-8").read()
        assert 'review_threshold = "model"' in text
        (tmp_path / "c.toml").write_text(text.replace('review_threshold = "model"', f"review_threshold = {value}"))
        config["config_file"] = str(tmp_path / "c.toml")
    option = ["--threshold", value] if where == "cli" else []
    assert cli(config, "predict", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv"),
               *option) == 2
    one_line_error(capsys, *says)
    assert not (tmp_path / "o.csv").exists()


def test_an_unexpected_failure_is_one_line_and_a_log_unless_debug(trained, tmp_path, capsys, monkeypatch):
    from pipeline.commands import predict as runs

    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(runs, "run_predict", broken)
    args = ["predict", "--input", str(tmp_path / "x.csv"), "--output", str(tmp_path / "o.csv")]
    assert cli(trained, *args) == 1
    err = one_line_error(capsys, "unexpected failure (ValueError: a bug", "--debug")
    log_file = err.split("the details are in ")[1].split(" (--debug")[0]
    assert "Traceback" in open(log_file, encoding="utf-8").read()
    os.unlink(log_file)
    with pytest.raises(ValueError):
        cli(trained, *args, "--debug")


def test_a_training_set_of_one_domain_is_one_line(tmp_path, capsys):
    from tests.conftest import write_config

    (tmp_path / "labeled").mkdir()
    write(tmp_path / "labeled", "seed.csv", b"text,domain,digital\nRefection de la voirie,transport,no\n" * 1
          + "".join(f"Voirie tranche {i},transport,no\n" for i in range(10)).encode())
    config = write_config(tmp_path, labeled=str(tmp_path / "labeled"), models=str(tmp_path / "models"))
    assert main(["--config", str(config), "-q", "train"]) == 2
    one_line_error(capsys, "seed.csv: one domain only ('transport')")


@pytest.mark.parametrize("command", ["train", "audit"])
@pytest.mark.parametrize("where, value", [("cli", "1"), ("cli", "0"), ("cli", "-2"), ("config", "1"),
                                          ("config", "0")])
def test_a_number_of_folds_cv_cannot_run_is_refused_at_once(trained, tmp_path, capsys, command, where, value):
    """One fold once searched forever for the titles a domain needs: the command never ended."""
    import signal

    config = dict(trained)
    if where == "config":
        text = open(trained["config_file"], encoding="utf-8").read()
        (tmp_path / "c.toml").write_text(text.replace("cv_folds = 5", f"cv_folds = {value}"), encoding="utf-8")
        config["config_file"] = str(tmp_path / "c.toml")
    options = ["--cv-folds", value] if where == "cli" else []
    if command == "audit":
        options += ["--output", str(tmp_path / "audit.xlsx")]

    def hung(*_):
        raise TimeoutError(f"{command} with {value} folds did not end")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        assert cli(config, command, *options) == 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    one_line_error(capsys, f"cv_folds = {value}", "give a whole number of at least 2")
    assert not (tmp_path / "audit.xlsx").exists()


@pytest.mark.parametrize("args, named", [
    (["predict", "--input", "a.csv", "--input", "b.csv"], "--input given twice ('a.csv', then 'b.csv')"),
    (["report", "--predictions", "a.csv", "b.csv", "--predictions", "c.csv"], "--predictions given twice"),
    (["--config", "a.toml", "--config", "b.toml", "train"], "--config given twice"),
    (["evaluate", "--labeled", "x.csv", "--label-col", "domain", "--label-col=domaine"], "--label-col given twice"),
])
def test_an_option_given_twice_is_refused_not_the_last_one_kept(capsys, args, named):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "give it once" in err and "Traceback" not in err, err


@pytest.mark.parametrize("command", ["train", "audit"])
def test_a_sources_file_without_extra_is_refused_not_ignored(trained, tmp_path, capsys, command):
    """--sources without --extra trained on the seed set alone, saying nothing of the file."""
    runs = sorted(os.listdir(trained["paths"]["models"]))
    options = ["--output", str(tmp_path / "audit.xlsx")] if command == "audit" else []
    assert cli(trained, command, "--sources", str(tmp_path / "mine.toml"), *options) == 2
    one_line_error(capsys, "mine.toml: a sources file is read only with --extra", "add --extra FOLDER")
    assert sorted(os.listdir(trained["paths"]["models"])) == runs and not (tmp_path / "audit.xlsx").exists()



def test_every_option_of_every_command_says_what_it_does_in_help():
    """--cv-folds showed no text at all in train's and audit's --help."""
    import argparse

    from pipeline.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    silent = [f"{name} {a.option_strings[-1]}" for name, parser in commands.items() for a in parser._actions
              if a.option_strings and not a.help]
    assert silent == []


# -- the Makefile ---------------------------------------------------------------------------------
HOSTILE_NAMES = ["$(touch {m}1)", "`touch {m}2`", "$(shell touch {m}3)", "x'; touch {m}4; echo '", "a b,c $$HOME"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_clean_keeps_the_workbooks_filled_by_hand(tmp_path):
    """make audit writes reports/audit.xlsx to be filled in: clean removed it with the generated reports."""
    shutil.copy(PROJECT_DIR / "Makefile", tmp_path / "Makefile")
    kept = ["reports/audit.xlsx", "data/reviewed/r.xlsx", "data/labeled/seed.csv", "models/.gitkeep"]
    gone = ["reports/bilan/rapport.html", "reports/bilan/classeur.xlsx", "reports/evaluation/scores.json",
            "data/predicted/p.csv", "models/20261201T000000Z-abc/model.joblib", "models/LATEST"]
    for name in kept + gone:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    done = subprocess.run(["make", "-s", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [n for n in kept if not (tmp_path / n).exists()] == []
    assert [n for n in gone if (tmp_path / n).exists()] == []
    assert "kept (workbooks filled by hand" in done.stdout and "reports/audit.xlsx" in done.stdout
    assert subprocess.run(["make", "-s", "clean"], cwd=tmp_path).returncode == 0  # twice: nothing left to remove


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_makefile_variables_never_run_as_code(tmp_path):
    marker = tmp_path / "pwned"
    names = [n.format(m=marker) for n in HOSTILE_NAMES]
    # The stamp is named and declared old (-o) so that make installs nothing; CLI prints its arguments.
    base = ["make", "-s", "-C", str(PROJECT_DIR), f"STAMP={tmp_path}/stamp", "-o", f"{tmp_path}/stamp"]
    show = "CLI=" + " ".join(["printf", "'<%s>\\n'"])
    for name in names:
        for dry in (["-n"], []):
            run = subprocess.run([*base, *dry, "predict", show, f"INPUT={name}", f"OUTPUT={name}.csv",
                                  f"TEXT_COL={name}", f"RUN={name}", f"SHEET={name}", f"SEP={name}",
                                  f"ENCODING={name}"], capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            if not dry:
                assert f"<{name}>" in run.stdout and f"<{name}.csv>" in run.stdout  # one argument, as typed
            run = subprocess.run([*base, *dry, "predict", show, f"RAW_CELLS={name}"], capture_output=True, text=True)
            assert run.returncode == 2 and "RAW_CELLS=" in run.stderr and not run.stdout  # no yes/no: refused
        run = subprocess.run([*base, "report", "-o", "communes", show, f"PREDICTIONS={name}", f"NAME={name}"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        # SURE_COL once missed USER_VARS: make exported it, expanding a $(shell ...) in it
        run = subprocess.run([*base, "evaluate", show, f"LABELED={name}", f"TEXT_COL={name}", f"LABEL_COL={name}",
                              f"DIGITAL_COL={name}", f"SURE_COL={name}"], capture_output=True, text=True)
        assert run.returncode == 0 and f"<{name}>" in run.stdout, run.stderr
    assert not list(tmp_path.glob("pwned*"))


def passed_variables(text: str) -> set[str]:
    """The variables a Makefile text passes: $(call opt,--flag,VAR), $(call opts,--flag=VAR ...), $(value VAR)."""
    return (set(re.findall(r"\$\(call (?:opt|flag),[^,]+,(\w+)\)", text)) | set(re.findall(r"\$\(value (\w+)\)", text))
            | set(re.findall(r"(?<![\w-])-{1,2}[a-z][\w-]*=([A-Z_]+)\b", text)))


def test_every_variable_a_target_passes_is_kept_from_the_environment():
    """A variable outside USER_VARS is exported, and make expands its text to do so."""
    makefile = (PROJECT_DIR / "Makefile").read_text().replace("\\\n", " ")
    code = "\n".join(line for line in makefile.splitlines() if not line.lstrip().startswith("#"))
    user_vars = set(re.search(r"^USER_VARS :=(.*)$", code, re.M).group(1).split())
    assert {"INPUT", "TEXT_COL", "SURE_COL", "FORCE", "N"} <= passed_variables(code)
    assert passed_variables(code) - user_vars == set()


def test_make_help_names_every_variable_a_target_passes():
    """`make help` is where a user learns a target's variables: evaluate's RUN and review-simulation's
    EXTRA were passed but named nowhere."""
    lines = (PROJECT_DIR / "Makefile").read_text().replace("\\\n", " ").splitlines()
    for i, line in enumerate(lines):
        if not (target := re.match(r"^([a-z-]+):(.*)## (.*)$", line)):
            continue
        recipe = list(itertools.takewhile(lambda text: text.startswith("\t"), lines[i + 1:]))
        body = " ".join([target.group(2), *recipe])
        passed = passed_variables(body)
        assert {v for v in passed if not re.search(rf"\b{v}\b", target.group(3))} == set(), target.group(1)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize("target, variables, command", [
    ("predict", [], "predict"),
    ("predict", ["INPUT=in put.csv", "OUTPUT=o.csv", "RAW_CELLS=yes"],
     "predict --input 'in put.csv' --output 'o.csv' --raw-cells"),
    ("evaluate", ["LABELED=l.csv", "SURE_COL=sure", "FORCE=yes", "RUN=r"],
     "evaluate --labeled 'l.csv' --sure-col 'sure' --force --run 'r'"),
    ("review", ["PREDICTIONS=p.csv", "OUTPUT=r.xlsx", "N=5"], "review --predictions 'p.csv' --output 'r.xlsx' -n '5'"),
    ("report", ["PREDICTIONS=p.csv", "TITLE=a  b"], "report --predictions 'p.csv' --title 'a  b'"),
])
def test_make_echoes_a_command_of_many_options_as_one_line(target, variables, command):
    """The options left empty echoed a line holding only a backslash each: `make predict` showed three."""
    run = subprocess.run(["make", "-n", "-C", str(PROJECT_DIR), "-o", ".venv/.installed", "-o", "communes", target,
                          *variables], capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if "-m pipeline " + target in line]
    assert len(lines) == 1 and "\\" not in run.stdout, run.stdout
    assert " ".join(lines[0].split()).endswith(" ".join(["-m pipeline", *command.split()])), lines
    assert "'a  b'" in lines[0] or "TITLE=a  b" not in variables, lines  # a value's own spaces are kept


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_makefile_yes_no_variables_read_0_no_false_as_off_and_refuse_other_values(tmp_path):
    """Any non-empty value used to switch the option on, RAW_CELLS=0 too."""
    base = ["make", "-s", "-C", str(PROJECT_DIR), f"STAMP={tmp_path}/stamp", "-o", f"{tmp_path}/stamp", "-o",
            "communes", "CLI=echo"]

    def options(target, **variables):
        run = subprocess.run([*base, target, "PREDICTIONS=p.csv", *(f"{k}={v}" for k, v in variables.items())],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return set(run.stdout.split()) & {"--raw-cells", "--excel-fr", "--force"}

    for off in ("", "0", "no", "False", "NO"):
        assert options("predict", RAW_CELLS=off, EXCEL_FR=off) == set(), off
        assert options("report", FORCE=off, EXCEL_FR=off) == set(), off
        assert options("evaluate", LABELED="l.csv", FORCE=off) == set(), off
    for on in ("1", "yes", "TRUE", "Yes"):
        assert options("predict", RAW_CELLS=on, EXCEL_FR=on) == {"--raw-cells", "--excel-fr"}, on
        assert options("report", FORCE=on, EXCEL_FR=on) == {"--force", "--excel-fr"}, on
        assert options("evaluate", LABELED="l.csv", FORCE=on) == {"--force"}, on
    for bad in ("maybe", "yes no", "2"):
        run = subprocess.run([*base, "report", "PREDICTIONS=p.csv", f"FORCE={bad}"], capture_output=True, text=True)
        assert run.returncode == 2 and f"FORCE={bad}: give 1, yes or true (--force)" in run.stderr, run.stderr
        assert not run.stdout


def test_excel_fr_writes_french_excels_csv_dialect(trained, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"titre": ["=cmd|'/c calc'!A1", "Réfection de la voirie"]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert cli(trained, "predict", "--input", str(source), "--output", str(out), "--text-col", "titre",
               "--excel-fr") == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1  # one BOM, at the start
    back = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig", dtype={"titre": str})
    assert back["titre"].tolist() == ["'=cmd|'/c calc'!A1", "Réfection de la voirie"]  # still neutralised
    assert back["confidence"].dtype == float and "," in raw.decode("utf-8-sig").splitlines()[1]


def test_writing_options_the_output_has_no_use_for_are_warned_of(tmp_path, caplog):
    """--excel-fr on a workbook or Parquet output, --raw-cells on a Parquet one, were ignored without a word."""
    cases = [("out.xlsx", "--excel-fr and --raw-cells ignored: the output is a workbook (.xlsx)"),
             ("out.parquet", "--excel-fr and --raw-cells ignored: the output is a Parquet file"),
             ("out.tsv", "--excel-fr ignored: the output is a TSV file"), ("out.csv", None)]
    for name, message in cases:
        caplog.clear()
        with caplog.at_level(logging.WARNING), io_options(excel_fr=True, raw_cells=True), \
                TableWriter(tmp_path / name, TableWriter.kind_of(name)) as writer:
            writer.write(pd.DataFrame({"titre": ["=1+1"]}))
        assert (message in caplog.text) if message else "ignored" not in caplog.text, caplog.text


@pytest.mark.parametrize("options, named, drop", [(["--force"], "--force", "it"),
                                                   (["--sheet", "2", "--label-col", "d"], "--label-col --sheet", "them")])
def test_evaluate_refuses_the_labeled_files_options_without_labeled(trained, capsys, monkeypatch, options, named,
                                                                    drop):
    """`make evaluate FORCE=yes` without LABELED dropped FORCE and started the long evaluation of every source."""
    def evaluates(*args, **kwargs):
        raise AssertionError("the evaluation of every source started")

    monkeypatch.setattr("pipeline.commands.evaluate.run_evaluate", evaluates)
    assert cli(trained, "evaluate", *options) == 2
    one_line_error(capsys, f"evaluate {named}: for a hand-labeled file only: add --labeled FILE",
                   f"drop {drop}")
    if shutil.which("make"):  # make passes FORCE without LABELED too, for the command to refuse it
        base = ["make", "-s", "-C", str(PROJECT_DIR), "STAMP=/nonexistent/stamp", "-o", "/nonexistent/stamp",
                "CLI=echo"]
        shown = subprocess.run([*base, "evaluate", "FORCE=yes"], capture_output=True, text=True).stdout
        assert "evaluate --force --extra ../shared/data" in " ".join(shown.split()), shown


@pytest.mark.parametrize("options, named, drop", [(["--extra", "elsewhere"], "--extra", "it"),
                                                   (["--recipe", "svm", "--extra", "x"], "--extra --recipe", "them")])
def test_evaluate_refuses_the_options_of_every_sources_evaluation_with_labeled(trained, tmp_path, capsys, monkeypatch,
                                                                                options, named, drop):
    """`evaluate --labeled FILE --extra X --recipe R` scored FILE and dropped --extra and --recipe without a word;
    `make evaluate LABELED=file EXTRA=x` dropped EXTRA."""
    def evaluates(*args, **kwargs):
        raise AssertionError("the labeled file was scored")

    monkeypatch.setattr("pipeline.commands.evaluate.run_evaluate_labeled", evaluates)
    labeled = tmp_path / "hand.csv"
    labeled.write_text("text,domain\nRéfection de la voirie,urbanisme\n", encoding="utf-8")
    assert cli(trained, "evaluate", "--labeled", str(labeled), *options) == 2
    one_line_error(capsys, f"evaluate {named}: not with --labeled: drop {drop}, or drop --labeled (make: no LABELED)")
    if shutil.which("make"):  # make passes EXTRA with LABELED too, for the command to refuse it
        base = ["make", "-s", "-C", str(PROJECT_DIR), "STAMP=/nonexistent/stamp", "-o", "/nonexistent/stamp",
                "CLI=echo"]
        shown = subprocess.run([*base, "evaluate", "LABELED=f.csv", "EXTRA=x"], capture_output=True, text=True).stdout
        assert "evaluate --labeled f.csv --extra x" in " ".join(shown.split()), shown


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_report_without_predictions_gives_its_usage_before_installing_the_communes():
    """It downloaded the commune reference first (or failed on the network) before saying what to give."""
    env = {k: v for k, v in os.environ.items() if k != "PREDICTIONS"}
    dry = subprocess.run(["make", "-n", "report"], cwd=PROJECT_DIR, capture_output=True, text=True, env=env)
    assert "usage: make report PREDICTIONS=" in dry.stdout and "fetch-communes" not in dry.stdout, dry.stdout
    given = subprocess.run(["make", "-n", "report", "PREDICTIONS=p.csv"], cwd=PROJECT_DIR, capture_output=True,
                           text=True, env=env)
    assert "fetch-communes" in given.stdout, given.stdout
