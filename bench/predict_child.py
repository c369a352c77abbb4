"""`make predict` in a fresh process, measured: `predict_child` starts `python -m bench.predict_child`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.measure import child_env, run_measured, timed
from pipeline.config import load_config
from pipeline.features.lemmatizer import SpacyLemmatizer


def predict_child(run: Path, inputs: list[Path], out_dir: Path, *, jobs: int = 0, suffix: str = "csv",
                  dedup: bool = True, variant: str = "fast", keep: str | None = None) -> dict:
    """`make predict` of each input in one fresh process (see `main`), measured;
    the outputs are deleted, or moved to out_dir/kept-<keep>/."""
    args = [sys.executable, "-m", "bench.predict_child", "--run", str(run), "--out-dir", str(out_dir),
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


def main(argv: list[str]) -> None:
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

    from pipeline.features import lemmatizer as preprocess
    from pipeline.modeling import model as model_module

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


if __name__ == "__main__":
    main(sys.argv[1:])
