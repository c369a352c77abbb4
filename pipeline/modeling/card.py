"""The model card (skops style) and the confusion-matrix figure of a training run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.domains import LabelSet
from pipeline.modeling.metrics import review_warning
from pipeline.quantify.evaluate import years_held


def confusion_png(metrics: dict, labels: LabelSet, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = metrics["confusion_matrix"]["labels"]
    matrix = np.array(metrics["confusion_matrix"]["matrix"], dtype=float)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    names = [labels.label(c) for c in order]
    fig, ax = plt.subplots(figsize=(11, 9), dpi=110)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(order)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), names, fontsize=8)
    for i in range(len(order)):
        for j in range(len(order)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("Domaine prédit")
    ax.set_ylabel("Domaine annoté")
    ax.set_title(f"Matrice de confusion (validation croisée, {metrics['chosen']}), part de chaque ligne")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def interval_text(result: dict, key: str) -> str:
    """" (95 % interval a–b)" after a figure, when its run measured one (runs before 2026-12-05 did not)."""
    if "interval" not in result:
        return ""
    low, high = result["interval"][key]
    return f" (95 % interval {low:.3f}–{high:.3f})"


def interval_note(result: dict) -> str:
    """What the intervals are, once, under the first figure that has one."""
    if "interval" not in result:
        return ""
    return (f"Intervals: percentile bootstrap over the rows scored ({result['interval']['resamples']} resamples): "
            "how far the figure could move on another draw of titles of the same kind; "
            "macro-F1's are wide where a class has one or two rows.\n")


def model_card(metadata: dict, metrics: dict, labels: LabelSet) -> str:
    d = metrics["domain"]
    rows = "\n".join(
        f"| {labels.label(c)} (`{c}`) | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1-score']:.2f} | {int(v['support'])} |"
        for c, v in d["per_class"].items()
    )
    sources = "\n".join(
        f"| {s['name']} | {s['rows_used']} | {s['left_out']} | {s.get('empty_text', 0)} | `{s['sha256'][:12]}` |"
        for s in metadata["sources"]
    )
    by_source = "\n".join(f"| {s} | {v['macro_f1']:.3f} | {v['accuracy']:.3f} | {v['n']} |"
                          for s, v in d["by_source"].items())
    baselines = "\n".join(f"| {n} | {v['macro_f1']:.3f} | {v['accuracy']:.3f} |"
                          for n, v in metrics["baselines"].items())
    digital = metrics["digital"]
    digital_line = (f"F1 of `yes` {digital['f1_yes']:.3f}, accuracy {digital['accuracy']:.3f} on {digital['n']} rows"
                    if digital.get("trained") else "not trained (no digital labels)")
    recipe = digital.get("recipe", {})
    if recipe.get("threshold") is not None:
        digital_line += f" (flagged yes from P(yes) ≥ {recipe['threshold']:g}"
        if recipe.get("word_counts_C"):
            digital_line += "; P(yes) the mean of two flags, one counting a title's words unnormalised"
        if recipe.get("cues"):
            digital_line += f"; {len(recipe['cues'])} digital cue words sharing one feature"
        digital_line += ")"
    headline_digital = digital.get("by_source", {}).get(metrics.get("headline_source"))
    if headline_digital:
        shuffles = ", ".join(f"{f:.3f}" for f in headline_digital.get("f1_yes_per_repeat", []))
        digital_line += (f"; on {metrics['headline_source']}'s {headline_digital['n']} rows, F1 of `yes` "
                         f"{headline_digital['f1_yes']:.3f}" + (f" (per shuffle: {shuffles})" if shuffles else ""))
    if digital.get("locked_test"):
        held = digital["locked_test"]
        digital_line += f"; on the locked test set, F1 of `yes` {held['f1_yes']} ({held['n_yes']} digital of {held['n']})"
    headline = metrics.get("headline_source", metrics["selected_on"])
    evaluated = (f"all {d['n']} training rows" if metrics["selected_on"] == "all rows" else
                 f"the real commune titles of {metrics['selected_on']}, every other training row in\n"
                 f"every fold as in this model; the headline is the {d['n']} rows of {headline}")
    locked = metrics.get("locked_test")
    locked_line = (f"Locked test set: {locked['n']} rows of {headline} never used to choose anything, scored once by\n"
                   f"this recipe trained on every other row: macro-F1 **{locked['macro_f1']:.3f}**"
                   f"{interval_text(locked, 'macro_f1')}, accuracy **{locked['accuracy']:.3f}**"
                   f"{interval_text(locked, 'accuracy')}.\n" if locked else "")
    locked_line += period_line(metrics.get("period_out"), headline)
    locked_line += shares_period_line(metrics.get("shares_period_out"), headline)
    locked_line += certainty_line(d.get("by_certainty"))
    pool = metadata.get("unlabeled_sources") or []
    n_pseudo = metrics.get("n_pseudo_labeled") or 0
    gave_way = {s["name"]: s["gave_way"] for s in metadata["sources"] if s.get("gave_way")}
    gave_way_line = ("\nRows of a title that a reviewed workbook answers with another domain gave way to the answer "
                     f"(not counted above): {', '.join(f'{k} {v}' for k, v in gave_way.items())}.\n" if gave_way else "")
    unanswered, repeated = (sum(s.get(k, 0) for s in metadata["sources"]) for k in ("not_answered", "repeated"))
    if unanswered or repeated:
        gave_way_line += (f"\nRows of the reviewed workbooks not counted above: {unanswered} nobody answered, "
                          f"{repeated} answering a text another row already answered (a copy filed twice).\n")
    pool_line = (f"\nSelf-training: of the {sum(s['rows_used'] for s in pool):,} unlabeled titles of "
                 f"{', '.join(s['name'] for s in pool)}, {n_pseudo:,} that a first model labeled with a clear margin "
                 f"joined the training rows with their predicted domain, at a fraction of a labeled row's weight.\n"
                 if n_pseudo else "")
    review = metrics["review"]
    review_line = (f"; the flagged rows hold {100 * review['errors_flagged']:.0f} % of the errors"
                   if review.get("errors_flagged") is not None else "")
    if warning := review_warning(review):
        review_line += f" (warning: {warning})"
    shuffles = ", ".join(f"{a:.3f}" for a in d["accuracy_per_repeat"])
    kinds = metrics.get("text_kinds") or []
    kinds_line = (f"Kinds of text with weights of their own: {', '.join(kinds)}; predictions use the "
                  "submissions' unless `predict --kind` names another.\n" if len(kinds) > 1 else "")
    return f"""# Model card: barometer domain classifier, run {metadata['run_id']}

## Description
Sorts free-text descriptions of French local-authority initiatives into the
{len(labels.codes)} domains of the barometer of local digital public services
(config/domains.csv), and flags whether the initiative itself is digital.
spaCy `{metadata['spacy_model']}` ({metadata['versions'].get('spacy_model')}) lower-cases,
strips accents and lemmatises; a scikit-learn `{metrics['chosen']}` classifier on word
and character n-grams of the lemmas gives a probability per domain.
Chosen because: {metrics['chosen_because']}.
{kinds_line}
## Intended use and limits
- Labeling lists of initiatives or investment projects of communes, EPCI and
  syndicates in batch, to count them by domain for a barometer. Rows whose
  confidence is below the review threshold are flagged `needs_review`: read them.
- Not for decisions about a single project or commune without a human reading it.
- Trained on short French titles and descriptions; long documents (council
  deliberations, reports) and other languages are out of scope.
- The domains a training source does not cover are learned only from the
  project's own seed set: their scores rest on fewer, written examples.

## Training data
| source | rows used | left out (`none`) | left out (no text) | sha256 |
|---|---|---|---|---|
{sources}
{gave_way_line}{pool_line}
## Evaluation
Grouped, stratified {metrics['cv_folds']}-fold cross-validation of {evaluated}
(copies of a title stay in one fold and never train the fold that tests them),
mean of {metrics.get('cv_repeats', 1)} shuffle(s) of the folds: macro-F1 **{d['macro_f1']:.3f}**{interval_text(d, 'macro_f1')},
accuracy **{d['accuracy']:.3f}**{interval_text(d, 'accuracy')} (per shuffle: {shuffles}).
{interval_note(d)}{locked_line}Digital flag: {digital_line}. Rows below confidence {review['threshold']:.2f} are flagged
`needs_review`: out of fold, that keeps {100 * review['coverage']:.0f} % of them at accuracy
{review['accuracy']:.3f}{review_line}.

| baseline | macro-F1 | accuracy |
|---|---|---|
{baselines}

| source (its rows scored out of fold) | macro-F1 | accuracy | rows |
|---|---|---|---|
{by_source}

| domain | precision | recall | F1 | rows |
|---|---|---|---|---|
{rows}

Confusion matrix: `confusion_matrix.png`. Versions and hashes: `metadata.json`.
"""


def certainty_line(by_certainty: dict | None) -> str:
    """The CV's accuracy on the rows the annotator was sure of and on the others, per source that says."""
    if not by_certainty:
        return ""
    cells = []
    for source, parts in by_certainty.items():
        said = [f"{word} {parts[key]['accuracy']:.3f} ({parts[key]['n']} rows)"
                for key, word in (("sure", "sure"), ("unsure", "not sure")) if key in parts]
        cells.append(f"{source}, {' / '.join(said)}")
    return ("By the annotator's certainty (the `sure` column), the same CV's accuracy on the rows they were sure "
            f"of and on the others: {'; '.join(cells)}.\n")


def period_line(period_out: dict | None, headline: str) -> str:
    """A year the model never saw: each period's headline rows, scored by the recipe trained without it."""
    if not period_out:
        return ""
    cells = [f"{p} {v['by_source'][headline]['accuracy']:.3f} / {v['by_source'][headline]['macro_f1']:.3f} "
             f"({v['by_source'][headline]['n']} rows)"
             for p, v in period_out["by_period"].items() if headline in v["by_source"]]
    if not cells:
        return ""
    pooled = period_out["pooled"].get(headline)
    flag = (pooled or {}).get("digital_f1_yes")
    return (f"A year it never saw: each year's rows of {headline} scored by this recipe trained on no labeled row "
            f"of that year, accuracy / macro-F1: {'; '.join(cells)}"
            + (f"; all years **{pooled['accuracy']:.3f}** / {pooled['macro_f1']:.3f}" if pooled else "")
            + (f"; the digital flag, trained likewise, F1 of `yes` {flag:.3f} over all years" if flag is not None
               else "") + ".\n")


def shares_period_line(check: dict | None, headline: str) -> str:
    """The report's share correction replayed on each year the model never saw (quantify.evaluate)."""
    if not check:
        return ""
    years = "; ".join(f"{p} {v['held']}/{v['classes']}" for p, v in check["by_period"].items())
    flag = check.get("digital")
    flag_text = ""
    if flag:
        held, n_years = years_held(flag)
        flag_text = (f" The digital share, corrected by {flag['method']}: {flag['adjusted_tv']:.3f} from the truth "
                     f"({flag['raw_tv']:.3f} raw), its interval holding it in {held} of {n_years} years.")
    return (f"Shares of a year it never saw: each year's rows of {headline}, labeled by the model trained without "
            f"that year and corrected by {check['method']} fitted on the other years' out-of-fold rows, are "
            f"{check['adjusted_tv']:.3f} from the true shares in total variation ({check['raw_tv']:.3f} counted "
            f"raw; mean over the years); the 95 % intervals hold the true share for **{check['held']} of "
            f"{check['of']}** (domain, year) pairs ({years}).{flag_text}\n")
