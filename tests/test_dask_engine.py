"""predict --engine dask on a LocalCluster of 2 worker processes: the local engine's output, row for row."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install '.[dask]')")

from pipeline.cli import main  # noqa: E402
from pipeline.commands.predict import PredictSettings, run_predict  # noqa: E402
from pipeline.config import PROJECT_DIR  # noqa: E402
from pipeline.engines.dask_engine import label_with_dask  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.io.options import io_options  # noqa: E402
from pipeline.modeling.run_folder import resolve_run  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c) as client:
        yield c, client


@pytest.fixture(scope="module")
def inputs(seed, tmp_path_factory):
    """Three CSV files (300 rows, codes with leading zeros, empty and repeated texts) and their concatenation."""
    tmp = tmp_path_factory.mktemp("dask-inputs")
    rows = seed.sample(300, replace=True, random_state=0).reset_index(drop=True)
    frame = pd.DataFrame({"code": [f"{i:05d}" for i in range(300)], "text": rows["text"], "note": "x"})
    frame.loc[[5, 150, 299], "text"] = ""
    parts = [frame.iloc[:100], frame.iloc[100:220], frame.iloc[220:]]
    for name, part in zip(["part-1.csv", "part-2.csv", "part-10.csv"], parts):  # natural order: 1, 2, 10
        part.to_csv(tmp / name, sep=";", index=False, encoding="utf-8-sig")
    frame.to_csv(tmp / "all.csv", sep=";", index=False, encoding="utf-8-sig")
    return tmp


@pytest.fixture(scope="module")
def local_output(trained, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    run_predict(trained, inputs / "all.csv", out, n_jobs=1)
    return pd.read_parquet(out)


def test_cli_on_a_cluster_gives_the_local_engine_output_row_for_row(trained, cluster, inputs, local_output, tmp_path):
    out = tmp_path / "out.parquet"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(inputs / "part-*.csv"),
                 "--output", str(out), "--engine", "dask", "--scheduler", cluster[0].scheduler_address]) == 0
    result = pd.read_parquet(out)
    assert result["code"].tolist() == [f"{i:05d}" for i in range(300)]  # files 1, 2, 10 in order, zeros kept
    pd.testing.assert_frame_equal(result, local_output)
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]  # no temporary file left


def test_sigterm_stops_the_run_and_leaves_no_half_written_output(trained, cluster, seed, tmp_path):
    """By default SIGTERM ended the client at once, leaving its temporary output; it now stops as Ctrl-C does."""
    source = tmp_path / "big.csv"
    texts = seed["text"].tolist()
    pd.DataFrame({"text": [f"{texts[i % len(texts)]} {i}" for i in range(100_000)]}).to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "--config", str(trained["config_file"]), "-q",
                            "predict", "--engine", "dask", "--scheduler", cluster[0].scheduler_address,
                            "--input", str(source), "--output", str(out)],
                           cwd=PROJECT_DIR, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120  # a loaded machine: the client starts within seconds
    while not list(tmp_path.glob(".out.parquet.*")) and run.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, run.stderr.read()  # labeling: its temporary output is there
    run.send_signal(signal.SIGTERM)
    err = run.communicate(timeout=60)[1]
    assert run.returncode == 143 and err.strip() == "interrupted: nothing was written", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


@pytest.mark.parametrize("address", ["http://127.0.0.1:8786", "127.0.0.1"])
def test_a_scheduler_address_of_no_dask_scheme_is_the_users_error(trained, inputs, tmp_path, capsys, address):
    """Dask's ValueError was an unexpected failure (exit 1, a crash log); it is the user's input (exit 2)."""
    out = tmp_path / "out.parquet"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(inputs / "all.csv"),
                 "--output", str(out), "--engine", "dask", "--scheduler", address]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --scheduler {address}: not a Dask scheduler address ("), err
    assert "give tcp://HOST:PORT" in err and not out.exists()


def test_a_scheduler_address_where_nothing_listens_is_refused_at_once(trained, inputs, tmp_path, capsys):
    """Client retried the refused connection for its whole 20 s timeout before saying it could not connect."""
    import socket

    with socket.socket() as free:  # a port nothing listens on once closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    out = tmp_path / "out.parquet"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(inputs / "all.csv"),
                 "--output", str(out), "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --scheduler tcp://127.0.0.1:{port}: nothing listens at 127.0.0.1:{port}"), err
    assert not out.exists()


def test_workers_given_with_a_scheduler_are_said_to_be_ignored(trained, cluster, inputs, tmp_path, caplog):
    """--workers only sizes a local cluster: with --scheduler it was dropped without a word."""
    with caplog.at_level(logging.WARNING):
        run_predict(trained, inputs / "part-1.csv", tmp_path / "out.parquet", engine="dask",
                    scheduler=cluster[0].scheduler_address, workers=4)
    assert (f"--workers 4 ignored: the cluster at --scheduler {cluster[0].scheduler_address} runs its own workers"
            in caplog.text)


def test_a_negative_number_of_workers_is_refused(trained, inputs, tmp_path, capsys):
    """A LocalCluster of -1 workers started none, and the run waited for them forever."""
    out = tmp_path / "out.parquet"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(inputs / "all.csv"),
                 "--output", str(out), "--engine", "dask", "--workers", "-1"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --workers -1: give a number of worker processes "
                                               "(0 or none: as many as --jobs, one per core by default)")
    assert not out.exists()


def test_files_cut_into_many_partitions_and_a_folder_output_keep_the_order(trained, cluster, inputs,
                                                                          local_output, tmp_path):
    settings = PredictSettings.from_config(trained)
    folder = resolve_run(trained["paths"]["models"])
    out = tmp_path / "labeled"
    for ship in ("path", "bytes"):  # both ways of sending the model give the same rows
        label_with_dask(folder, inputs / "part-*.csv", out, settings, blocksize=1500, ship=ship,
                        client=cluster[1])
        parts = sorted(out.iterdir())
        assert len(parts) > 6 and parts[0].name == "part-00000.parquet"
        result = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(result, local_output)
    # and a folder of Parquet parts (key=value folders become a column) reads back the same
    again = tmp_path / "again.parquet"
    hive = tmp_path / "hive"
    for i, p in enumerate(parts):
        (hive / f"batch={i // 4}").mkdir(parents=True, exist_ok=True)
        pd.read_parquet(p)[["code", "text", "note"]].to_parquet(hive / f"batch={i // 4}" / f"{i}.parquet")
    label_with_dask(folder, hive, again, settings, client=cluster[1])
    result = pd.read_parquet(again)
    assert result["code"].tolist() == local_output["code"].tolist()
    assert result["batch"].iloc[-1] == str((len(parts) - 1) // 4)
    pd.testing.assert_frame_equal(result.drop(columns="batch"), local_output)


def test_a_folder_output_replaces_an_earlier_runs_parts_but_never_other_files(trained, cluster, inputs, tmp_path):
    """The new folder was swapped in whole: a file of the user's in OUTPUT was deleted without a word."""
    folder, settings = resolve_run(trained["paths"]["models"]), PredictSettings.from_config(trained)
    out = tmp_path / "labeled"
    label_with_dask(folder, inputs / "part-1.csv", out, settings, client=cluster[1])
    label_with_dask(folder, inputs / "part-*.csv", out, settings, client=cluster[1])  # its own parts: replaced
    assert sum(len(pd.read_parquet(p)) for p in out.iterdir()) == 300
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"labeled holds files predict --engine dask does not write \(notes.txt\)"):
        label_with_dask(folder, inputs / "part-1.csv", out, settings, client=cluster[1])
    assert (out / "notes.txt").read_text(encoding="utf-8") == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labeled"]


@pytest.mark.parametrize("output", ["out.parquet", "out"])
def test_csv_options_given_for_a_parquet_output_are_said_to_be_ignored(trained, cluster, inputs, tmp_path, caplog,
                                                                        output):
    """--excel-fr and --raw-cells shape CSV outputs only: a folder output dropped them without a word, where a
    file output (TableWriter) warned."""
    folder, settings = resolve_run(trained["paths"]["models"]), PredictSettings.from_config(trained)
    with caplog.at_level(logging.WARNING), io_options(excel_fr=True, raw_cells=True):
        label_with_dask(folder, inputs / "part-1.csv", tmp_path / output, settings, client=cluster[1])
    assert "--excel-fr and --raw-cells ignored: the output is a " in caplog.text, caplog.text


@pytest.mark.parametrize("output", ["out.parquet", "out"])
def test_the_last_line_counts_the_rows_flagged_needs_review_as_the_local_engine(trained, cluster, inputs, tmp_path,
                                                                                 caplog, output):
    """The Dask engine's last line gave the rows only, not how many were flagged needs_review."""
    def last_line(run) -> str:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pipeline"):
            run()
        return [r.getMessage() for r in caplog.records if "rows labeled into" in r.getMessage()][-1]

    local = last_line(lambda: run_predict(trained, inputs / "all.csv", tmp_path / "local.parquet", n_jobs=1))
    dask = last_line(lambda: label_with_dask(resolve_run(trained["paths"]["models"]), inputs / "part-*.csv",
                                             tmp_path / output, PredictSettings.from_config(trained),
                                             client=cluster[1]))
    flagged = int(pd.read_parquet(tmp_path / "local.parquet")["needs_review"].sum())
    assert flagged >= 3  # the empty texts at least
    assert dask == local.replace("local.parquet", output)
    assert f"300 rows labeled into {tmp_path / output}; {flagged} flagged needs_review" in dask


def test_key_value_folders_of_csv_files_become_columns_as_for_parquet(trained, cluster, inputs, tmp_path):
    """Only a Parquet folder's key=value folders became columns: CSV rows lost their partition's key."""
    for year, name in (("2024", "part-1.csv"), ("2025", "part-2.csv")):
        (tmp_path / "in" / f"year={year}").mkdir(parents=True)
        (tmp_path / "in" / f"year={year}" / name).write_bytes((inputs / name).read_bytes())
    out = tmp_path / "out.parquet"
    label_with_dask(resolve_run(trained["paths"]["models"]), tmp_path / "in", out,
                    PredictSettings.from_config(trained), client=cluster[1])
    result = pd.read_parquet(out)
    assert list(result.columns[:4]) == ["code", "text", "note", "year"]
    assert result["year"].tolist() == ["2024"] * 100 + ["2025"] * 120
    assert result["code"].tolist() == [f"{i:05d}" for i in range(220)]


def test_a_review_threshold_that_flags_only_empty_texts_is_warned_of(trained, cluster, inputs, tmp_path, caplog):
    settings = dataclasses.replace(PredictSettings.from_config(trained), review_threshold=0.0)
    with caplog.at_level(logging.WARNING):
        label_with_dask(resolve_run(trained["paths"]["models"]), inputs / "all.csv", tmp_path / "out.parquet",
                        settings, client=cluster[1])
    assert "needs_review marks only empty texts" in caplog.text


@pytest.mark.parametrize("bad, message", [
    ("missing", "no column 'text'"),
    # The first file's encoding reads every file: the error says so, and names it as the user knows it
    # (it said utf-8-sig, the codec that strips a BOM).
    ("undecodable", "cannot be decoded as utf-8 (the encoding of "),
])
def test_a_bad_file_of_a_glob_is_named_and_nothing_is_written(trained, cluster, inputs, tmp_path, bad, message):
    for name in ("part-1.csv", "part-2.csv", "part-10.csv"):
        (tmp_path / name).write_bytes((inputs / name).read_bytes())
    if bad == "missing":
        frame = pd.read_csv(tmp_path / "part-2.csv", sep=";", dtype=str, encoding="utf-8-sig")
        frame.rename(columns={"text": "texte"}).to_csv(tmp_path / "part-2.csv", sep=";", index=False)
    else:
        with open(tmp_path / "part-2.csv", "ab") as fh:
            fh.write("00999;école de la République;x\n".encode("cp1252"))
    out = tmp_path / "out" / "labeled.parquet"
    with pytest.raises(PipelineError) as error:
        label_with_dask(resolve_run(trained["paths"]["models"]), tmp_path / "part-*.csv", out,
                        PredictSettings.from_config(trained), client=cluster[1])
    assert "part-2.csv" in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_the_workers_do_not_repeat_the_inputs_error_with_a_traceback(trained, inputs, tmp_path, capfd):
    """Each worker logged the input's error again as "Compute Failed" with a traceback, once per retry,
    above the one clear line."""
    frame = pd.read_csv(inputs / "part-2.csv", sep=";", dtype=str, encoding="utf-8-sig")
    (tmp_path / "part-1.csv").write_bytes((inputs / "part-1.csv").read_bytes())
    frame.rename(columns={"text": "texte"}).to_csv(tmp_path / "part-2.csv", sep=";", index=False)
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(tmp_path / "part-*.csv"),
                 "--output", str(tmp_path / "out.parquet"), "--engine", "dask", "--workers", "1"]) == 2
    err = capfd.readouterr().err
    assert "part-2.csv: no column 'text'" in err and "Compute Failed" not in err and "Traceback" not in err, err


def test_a_later_file_is_split_at_its_own_separator_when_the_first_has_one_column(trained, cluster, seed, tmp_path):
    """A first file of one column has no separator: the later file's header was read whole, and the error
    said it had no column 'text' while listing it."""
    pd.DataFrame({"text": seed["text"].head(3)}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"text": seed["text"].head(3), "code": ["01", "02", "03"]}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(PipelineError) as error:
        label_with_dask(resolve_run(trained["paths"]["models"]), tmp_path / "*.csv", tmp_path / "out.parquet",
                        PredictSettings.from_config(trained), client=cluster[1])
    assert str(error.value) == f"{tmp_path / 'b.csv'}: its columns (text, code) differ from the first file's (text)"


def test_a_parquet_input_is_read_as_the_local_engine_reads_it(trained, cluster, seed, tmp_path):
    """Dask read Parquet with pandas' metadata: a saved index was lost (every input column is kept locally),
    a categorical column stayed categorical, integers with a null became Int64."""
    source = tmp_path / "in.parquet"
    pd.DataFrame({"code": pd.array([1004, None, 75056, 2], dtype="Int64"),
                  "kind": pd.Categorical(["a", "b", None, "a"]), "text": seed["text"].head(4).tolist()},
                 index=pd.Index(["r1", "r2", "r3", "r4"], name="ref")).to_parquet(source)
    local, out = tmp_path / "local.parquet", tmp_path / "out.parquet"
    run_predict(trained, source, local, n_jobs=1)
    label_with_dask(resolve_run(trained["paths"]["models"]), source, out, PredictSettings.from_config(trained),
                    client=cluster[1])
    expected = pd.read_parquet(local)
    assert list(expected.columns[:3]) == ["ref", "code", "kind"]
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)


def test_a_model_sent_by_bytes_is_refused_by_a_worker_with_other_library_versions(trained, cluster):
    """The worker checks the versions the model was made with, as load_run does (here, faked older)."""
    from pipeline.engines.dask_engine import ship_model
    from pipeline.modeling.run_folder import load_run

    folder = resolve_run(trained["paths"]["models"])
    model, metadata = load_run(folder)
    metadata["versions"] = {**metadata["versions"], "scikit-learn": "0.24.2"}
    with pytest.raises(Exception, match=r"scikit-learn 0\.24\.2 \(worker "):
        ship_model(cluster[1], folder, model, metadata, "submission", how="bytes")


def test_column_names_lose_their_surrounding_spaces_as_in_the_local_engine(trained, cluster, seed, tmp_path):
    source = tmp_path / "spaced.csv"
    pd.DataFrame({" titre ": seed["text"].head(20), "code ": range(20)}).to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(source), "--text-col", "titre",
                 "--output", str(out), "--engine", "dask", "--scheduler", cluster[0].scheduler_address]) == 0
    local = tmp_path / "local.parquet"
    run_predict(trained, source, local, n_jobs=1, text_col="titre")
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(local))
    assert list(pd.read_parquet(out).columns[:2]) == ["titre", "code"]


def test_a_malformed_line_in_a_later_partition_is_named_by_its_line_in_the_file(trained, cluster, tmp_path):
    """pandas numbered the line in the partition's text (its header, then its lines): the Dask engine now names
    the file's line, blank lines counted, as the local engine does."""
    lines = ["code;text;note"] + [f"{i:05d};Réfection de la voirie, tranche {i};x" for i in range(60)]
    lines[10:10] = ["", ""]  # blank lines before the partition: counted, as a text editor counts them
    bad = len(lines) - 5
    lines[bad] = "00999;trop;de;champs;x"
    source = tmp_path / "bad.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = len("\n".join(lines[:bad - 3]).encode("utf-8"))  # the second partition holds a few lines before it
    settings, out = PredictSettings.from_config(trained), tmp_path / "out.parquet"
    with pytest.raises(PipelineError) as local:
        run_predict(trained, source, out, n_jobs=1)
    with pytest.raises(PipelineError) as dask:
        label_with_dask(resolve_run(trained["paths"]["models"]), source, out, settings, blocksize=start,
                        client=cluster[1])
    assert str(dask.value) == str(local.value) == (f"{source}: malformed CSV (separator ';'): Expected 3 fields in "
                                                   f"line {bad + 1}, saw 5")
    assert not out.exists()


def _titles(count: int) -> list[str]:
    return [f"{i:05d};Travaux de la salle des fêtes, lot {i}" for i in range(count)]


def test_a_separator_ending_every_line_moves_no_column_in_any_partition(trained, cluster, tmp_path):
    """pandas took the first column for an index when a piece's first line had one more field than its
    header (code shifted into titre): the pieces are now read with the local reader's names and checks."""
    source = tmp_path / "fr.csv"
    source.write_text("\n".join(["code;titre"] + [f"{line};" for line in _titles(40)]) + "\n", encoding="utf-8")
    local = tmp_path / "local.parquet"
    run_predict(trained, source, local, n_jobs=1, text_col="titre")
    expected = pd.read_parquet(local)
    assert expected["code"].tolist()[:2] == ["00000", "00001"] and list(expected.columns[:2]) == ["code", "titre"]
    settings, out = PredictSettings.from_config(trained), tmp_path / "out.parquet"
    for blocksize in (0, 300):  # the whole file; pieces starting in the middle of the rows
        label_with_dask(resolve_run(trained["paths"]["models"]), source, out, settings, text_col="titre",
                        blocksize=blocksize, client=cluster[1])
        pd.testing.assert_frame_equal(pd.read_parquet(out), expected)


@pytest.mark.parametrize("where", ["starts", "inside"])
def test_a_stray_field_in_a_later_partition_is_the_local_engines_error(trained, cluster, tmp_path, where):
    """A piece whose first line had one field too many was read with its first field as the index (titre
    took the code, code the stray value); now that line is refused as the local engine refuses it."""
    lines = ["code;titre"] + _titles(40)
    stray = 25
    lines[stray] += ";en trop"
    source = tmp_path / "stray.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = stray if where == "starts" else stray - 3  # the piece starts on the stray line, or 3 lines before
    start = len("\n".join(lines[:before]).encode("utf-8")) + 1
    out = tmp_path / "out.parquet"
    with pytest.raises(PipelineError) as local:
        run_predict(trained, source, out, n_jobs=1, text_col="titre")
    with pytest.raises(PipelineError) as dask:
        label_with_dask(resolve_run(trained["paths"]["models"]), source, out, PredictSettings.from_config(trained),
                        text_col="titre", blocksize=start, client=cluster[1])
    assert str(dask.value) == str(local.value) == (f"{source}: malformed CSV (separator ';'): Expected 2 fields in "
                                                   f"line {stray + 1}, saw 3")
    assert not out.exists()
