"""Options that mean something in one mode of a command only, refused in the other.

evaluate scores a hand-labeled file (--labeled) or every source of --extra; an option of one mode given in
the other was dropped without a word: `--labeled f --extra x --recipe r` scored f, `make evaluate FORCE=yes`
started the long evaluation of every source. evaluate-quantifier's --label-col is of --labeled-predictions.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class Modes:
    switch: str                  # argparse's name of the option that sets the mode
    add: str                     # how to give it, as the user types it
    drop: str                    # how to leave it out
    what: str                    # what it names
    with_only: tuple[str, ...]   # options (argparse's names) read only with it
    without_only: tuple[str, ...]  # options read only without it
    with_it: str                 # what the command does with it
    without_it: str              # what the command does without it


# By command, the one table of which options belong to which mode.
MODES = {
    "evaluate": Modes(
        "labeled", "--labeled FILE (make: LABELED=file)", "--labeled (make: no LABELED)", "a hand-labeled file",
        ("text_col", "label_col", "digital_col", "sure_col", "sheet", "run", "force"), ("extra", "recipe"),
        "evaluate scores the current model on FILE alone",
        "evaluate scores every source of --extra (EXTRA=) and always replaces reports/evaluation/sources/"),
    # --label-col names the true domain column of --labeled-predictions: alone, it was never read.
    "evaluate-quantifier": Modes(
        "labeled_predictions", "--labeled-predictions FILE", "--labeled-predictions", "a labeled predictions file",
        ("label_col",), (), "evaluate-quantifier also scores the correction on FILE's true domains",
        "evaluate-quantifier measures the correction on the run's out-of-fold rows alone"),
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_modes(command: str, args) -> None:
    """One line naming the options of the other mode given to `command`, and what to do."""
    modes = MODES.get(command)
    if modes is None:
        return
    on = bool(getattr(args, modes.switch))
    given = [flag(name) for name in (modes.without_only if on else modes.with_only) if getattr(args, name)]
    if not given:
        return
    them = "it" if len(given) == 1 else "them"
    switch = flag(modes.switch)
    if on:
        raise PipelineError(f"{command} {' '.join(given)}: not with {switch}: drop {them}, or drop {modes.drop}; "
                            f"with {switch}, {modes.with_it}; without it, {modes.without_it}")
    raise PipelineError(f"{command} {' '.join(given)}: for {modes.what} only: add {modes.add}, or drop {them}; "
                        f"without {switch}, {modes.without_it}")
