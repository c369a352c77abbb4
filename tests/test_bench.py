"""The benchmark's arithmetic: rates are over the input each variant labeled (bench/throughput.py)."""
from bench.throughput import median_rates


def _run(seconds: float) -> dict:
    return {"predict_s": seconds, "predict_cpu_s": seconds * 2, "wall_s": seconds + 3}


def test_each_variant_is_rated_over_its_own_input_and_its_median_run():
    runs = {"three years": [_run(4.0), _run(2.0), _run(3.0)], "2023 alone": [_run(1.0)]}
    sizes = {"three years": (600_000, 60_000), "2023 alone": (200_000, 20_000)}

    rated = median_rates(runs, sizes)

    three = rated["three years"]
    assert (three["words"], three["rows"], three["predict_s"]) == (600_000, 60_000, 3.0)
    assert three["words_per_s"] == 200_000 and three["rows_per_s"] == 20_000
    assert three["words_per_cpu_s"] == 100_000 and three["words_per_s_cold"] == 100_000
    assert three["predict_s_runs"] == [4.0, 2.0, 3.0]
    assert rated["2023 alone"]["words_per_s"] == 200_000 and rated["2023 alone"]["rows"] == 20_000
    assert "words" not in runs["three years"][2]  # the runs themselves are left as measured


def test_a_baseline_run_is_printed_beside_this_one_figure_by_figure():
    from bench.compare import side_by_side

    baseline = {"seconds": 200.0, "throughput": {"predict": {"2 processes": {"predict_s": 4.0, "max_rss_mb": 500.0,
                                                                          "words_per_s": 10}},
                                                 "spacy": {"full": {"seconds": 80.0}}}}
    current = {"seconds": 100.0, "throughput": {"predict": {"2 processes": {"predict_s": 3.0, "max_rss_mb": 550.0,
                                                                         "words_per_s": 30},
                                                            "new variant": {"predict_s": 1.0}}}}

    rows = side_by_side(baseline, current)

    assert rows == [["seconds", 200.0, 100.0, 0.5],
                    ["throughput / predict / 2 processes / predict_s", 4.0, 3.0, 0.75],
                    ["throughput / predict / 2 processes / max_rss_mb", 500.0, 550.0, 1.1]]


def test_a_baseline_read_from_its_json_matches_this_runs_figures_keyed_by_rows():
    import json

    from bench.compare import side_by_side

    current = {"memory": {10000: {"predict_s": 2.0, "max_rss_mb": 400.0}, 30000: {"predict_s": 6.0}}}
    baseline = json.loads(json.dumps({"memory": {10000: {"predict_s": 4.0, "max_rss_mb": 400.0}}}))

    rows = side_by_side(baseline, current)

    assert rows == [["memory / 10000 / predict_s", 4.0, 2.0, 0.5],
                    ["memory / 10000 / max_rss_mb", 400.0, 400.0, 1.0]]


def test_a_baseline_that_is_not_a_results_json_stops_the_run_before_it_starts(tmp_path, capsys):
    """JSON of another shape passed the check, and the comparison failed only after the whole run."""
    import pytest

    from bench.run import main

    baseline = tmp_path / "other.json"
    baseline.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--only", "memory", "--model", str(tmp_path), "--data", str(tmp_path), "--baseline", str(baseline),
              "--out", str(tmp_path / "results.json")])
    assert stop.value.code == 2
    assert f"--baseline {baseline}: not a results.json of bench/run.py" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_a_model_folder_that_holds_no_model_stops_the_run_before_it_starts(tmp_path, capsys):
    """It failed at the first predict, with a traceback naming --run, after any section before it."""
    import pytest

    from bench.run import main

    with pytest.raises(SystemExit) as stop:
        main(["--only", "memory", "--model", str(tmp_path / "no-run"), "--data", str(tmp_path),
              "--out", str(tmp_path / "results.json")])
    assert stop.value.code == 2
    assert f"--model {tmp_path / 'no-run'}: not a trained run folder (no model.joblib in it)" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_options_the_run_cannot_use_stop_it_before_its_temporary_folder_and_training(tmp_path, capsys, monkeypatch):
    """--sizes abc was a traceback; --data of no folder or --repeats 0 failed after training a model; an
    unknown --only section left the temporary folder behind."""
    import tempfile

    import pytest

    from bench.run import main

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.joblib").write_bytes(b"")
    given = ["--model", str(tmp_path / "run"), "--out", str(tmp_path / "results.json")]
    for args, message in [(["--only", "nope"], "unknown section(s): nope"),
                          (["--sizes", "abc"], "--sizes abc: give row counts above 0"),
                          (["--sizes", "10,0"], "--sizes 10,0: give row counts above 0"),
                          (["--repeats", "0", "--only", "throughput"], "--repeats 0: give a number of runs of at least 1"),
                          (["--data", str(tmp_path / "no-data"), "--only", "throughput"],
                           f"--data {tmp_path / 'no-data'}: no such folder")]:
        with pytest.raises(SystemExit) as stop:
            main([*args, *given])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "results.json").exists()
