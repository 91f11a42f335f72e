"""The documents in docs/: the glossary (one heading per term, stable anchors, links that lead somewhere) and the
instructor guide (its table of times is recomputed from the notebooks and README, so it cannot drift)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest

from labkit.exercises.quiz import is_quiz_cell, questions_in
from labkit.viz.site import heading_anchor, readme_notebook_table

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
TEXT = GLOSSARY.read_text(encoding="utf-8")
HEADINGS = re.findall(r"^### (.+)$", TEXT, re.MULTILINE)
ANCHORS = [heading_anchor(heading) for heading in HEADINGS]
# The terms the issue and the notebooks rely on: each must keep an entry under this anchor (links point at them).
REQUIRED = [
    "transfer-learning", "self-attention", "query-key-and-value", "multi-head-attention", "positional-encoding",
    "wordpiece", "cls-and-sep", "masked-language-modelling-mlm", "next-sentence-prediction-nsp",
    "causal-language-modelling", "perplexity", "fine-tuning", "frozen-encoder", "linear-probe", "lora",
    "majority-class-rate", "accuracy", "precision-recall-and-f1", "macro-f1", "bootstrap-interval",
    "paired-bootstrap", "mcnemars-test", "validation-and-test-splits", "calibration",
    "expected-calibration-error-ece", "temperature-scaling", "pareto-front", "attribution", "integrated-gradients",
    "occlusion", "attention-rollout", "faithfulness", "weat-and-seat", "counterfactual-flip-rate",
    "counterfactual-data-augmentation-cda", "bbq", "textgcn", "pmi", "gcn", "transductive-and-inductive",
    "distillation", "quantisation",
]


def entries() -> dict[str, str]:
    """Heading -> the entry's text (up to the next heading)."""
    parts = re.split(r"^### (.+)$", TEXT, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_term_has_one_heading_whose_anchor_is_unique() -> None:
    assert len(HEADINGS) >= 60
    assert len(set(HEADINGS)) == len(HEADINGS), "a term is defined twice"
    duplicates = {anchor for anchor in ANCHORS if ANCHORS.count(anchor) > 1}
    assert not duplicates, f"headings that give the same anchor: {duplicates}"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", anchor) for anchor in ANCHORS), \
        "an anchor with a double hyphen or a stray character: reword the heading"
    alphabetical = sorted(HEADINGS, key=lambda heading: re.sub(r"[^a-z0-9 ]", "", heading.lower()))
    assert HEADINGS == alphabetical, "keep the entries in alphabetical order"
    levels = re.findall(r"^#{1,6} ", TEXT, re.MULTILINE)
    assert levels.count("# ") == 1 and set(levels) == {"# ", "### "}  # one title; every other heading is a term


def test_the_terms_the_kit_relies_on_are_defined() -> None:
    missing = [anchor for anchor in REQUIRED if anchor not in ANCHORS]
    assert not missing, f"no glossary entry for: {missing}"


def test_every_link_leads_to_an_existing_notebook_or_entry() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    notebooks = [target for target in targets if ".ipynb" in target]
    assert len(notebooks) >= 100
    for target in notebooks:
        path = (GLOSSARY.parent / target.split("#")[0]).resolve()
        assert path.parent == ROOT / "notebooks" and path.is_file(), f"{target}: no such notebook"
    for target in targets:
        if target.startswith("#"):
            assert target[1:] in ANCHORS, f"link to {target}, which is no entry's anchor"
        else:
            assert ".ipynb" in target, f"{target}: the glossary links only to notebooks and to its own entries"
    linked = {Path(target.split("#")[0]).name for target in notebooks}
    unlinked = [path.name for path in sorted((ROOT / "notebooks").glob("*.ipynb")) if path.name not in linked]
    assert not unlinked, f"no glossary entry says it is taught in {unlinked}: add its terms"


def test_every_entry_says_where_it_is_taught() -> None:
    for heading, text in entries().items():
        definition = text.strip().split("\n\n")[0]
        assert definition and not definition.startswith("*Taught"), f"{heading}: no definition"
        assert "Taught in [" in text or "No notebook teaches it yet" in text, f"{heading}: where is it taught?"


def test_heading_anchor_follows_githubs_rule() -> None:
    """GitHub's rule: lower case, punctuation other than hyphens dropped, spaces as hyphens (worked out by hand)."""
    assert heading_anchor("[CLS] and [SEP]") == "cls-and-sep"
    assert heading_anchor("McNemar's test") == "mcnemars-test"
    assert heading_anchor("Expected calibration error (ECE)") == "expected-calibration-error-ece"
    assert heading_anchor("Precision, recall and F1") == "precision-recall-and-f1"
    assert heading_anchor("Macro-F1") == "macro-f1"
    assert heading_anchor("tiny-bert and tiny-gpt") == "tiny-bert-and-tiny-gpt"


# ---------------------------------------------------------------- links from the notebooks

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GLOSSARY_LINK = re.compile(r"\]\(\.\./docs/glossary\.md#([^)\s]+)\)")


def test_the_notebooks_link_every_term_to_its_entry() -> None:
    """Each term is linked where it first appears: its first link is in the first notebook that teaches it, or
    earlier."""
    linked: dict[str, list[str]] = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for anchor in GLOSSARY_LINK.findall(cell.source):
                    linked.setdefault(anchor, []).append(path.name)
    unknown = sorted(set(linked) - set(ANCHORS))
    assert not unknown, f"links to glossary anchors that do not exist: {unknown}"
    unlinked = [heading for heading, anchor in zip(HEADINGS, ANCHORS, strict=True) if anchor not in linked]
    assert not unlinked, f"glossary terms no notebook links to: {unlinked}"
    for heading, text in entries().items():  # the first link is in the first notebook the entry says teaches it
        taught = re.findall(r"\(\.\./notebooks/(\d\d)_", text)
        first_link = linked[heading_anchor(heading)][0][:2]
        assert not taught or first_link <= min(taught), f"{heading}: linked first in {first_link}, taught in {taught}"


# ---------------------------------------------------------------- expected times: the headers and the guide

GUIDE = ROOT / "docs" / "instructor_guide.md"
WORDS_PER_MINUTE = 150  # the reading pace the guide and the notebooks' headers state
HEADER_TIME = re.compile(
    r"\*\*Expected time:\*\* about (\d+) minutes: (\d+) of reading .*?, (\d+) for the (?:exercise|\d+ exercises) .*?, "
    r"(\d+) for the quiz at the end, and (a minute|\d+ minutes) to run every cell \(README: ([^ ]+ s) on 2 CPU cores, "
    r"(\d+ s) on Binder's one CPU\)",
    re.DOTALL)


def readme_run_times() -> dict[str, tuple[str, str]]:
    """Notebook file name -> (run time on 2 CPU cores, on Binder's 1 CPU), from README's notebook table."""
    found = {}
    for name, cells in readme_notebook_table(ROOT / "README.md").items():
        assert len(cells) == 3, f"README's row for {name} should have 4 columns: {cells}"
        found[name] = (cells[1], cells[2])
    return found


def expected_times(path: Path, run_times: dict[str, tuple[str, str]]) -> dict[str, object]:
    """A notebook's times by the rule its header and the guide state, computed from the notebook and README.

    Reading: the words of every markdown cell at 150 a minute; exercises: the sum of the answer cells' own
    estimates; the quiz: a minute a question; running: README's run time on 2 cores, rounded up to whole
    minutes; the total: their sum, rounded to the nearest 5 minutes.
    """
    notebook = nbformat.read(path, as_version=4)
    prose = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    stated = [int(minutes) for text in prose
              for minutes in re.findall(r"Difficulty: [\w-]+ · about (\d+) minutes", text)]
    answers = sum("### BEGIN SOLUTION" in cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert len(stated) == answers, f"{path.name}: {answers} answer cells but {len(stated)} time estimates"
    questions = sum(len(questions_in(cell.source)) for cell in notebook.cells if is_quiz_cell(cell))
    two_cores, binder = run_times[path.name]
    running = max(1, math.ceil(int(re.fullmatch(r"~(\d+) s", two_cores).group(1)) / 60))
    reading = round(sum(len(text.split()) for text in prose) / WORDS_PER_MINUTE)
    total = 5 * round((reading + sum(stated) + questions + running) / 5)
    return dict(two_cores=two_cores, binder=binder, reading=reading, answers=answers, exercises=sum(stated),
                questions=questions, running=running, total=total)


def close(have: int, want: int, slack: float = 0.15) -> bool:
    """Reading times move a little with every prose edit: stated and computed may differ by 2 minutes or 15%."""
    return abs(have - want) <= max(2, slack * want)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_each_notebook_opens_with_goals_prerequisites_and_its_time_by_the_rule(path: Path) -> None:
    times = expected_times(path, readme_run_times())
    notebook = nbformat.read(path, as_version=4)
    assert "**In this notebook you will**" in notebook.cells[0].source, f"{path.name}: the learning goals"
    header = notebook.cells[1].source
    assert header.startswith("**Before you start**") and "**Prerequisites:**" in header
    match = HEADER_TIME.search(header)
    assert match, f"{path.name}: the header's expected-time sentence is not in its usual form"
    total, reading, exercises, questions, running, two_cores, binder = match.groups()
    running = 1 if running == "a minute" else int(running.split()[0])
    assert (int(exercises), int(questions), running, two_cores, binder) == (
        times["exercises"], times["questions"], times["running"], times["two_cores"], times["binder"]), \
        f"{path.name}: {times}"
    assert close(int(reading), times["reading"]) and close(int(total), times["total"], 0.1), f"{path.name}: {times}"


def guide_row(path: Path, times: dict[str, object]) -> str:
    return (f"| [{path.name[:2]}](../notebooks/{path.name}) | {times['two_cores']} | {times['binder']} | "
            f"{times['reading']} | {times['answers']} | {times['exercises']} | {times['questions']} | "
            f"{times['total']} |")


def test_the_instructor_guides_times_are_the_notebooks_and_readmes() -> None:
    rows = {match.group(1): [cell.strip() for cell in match.group(2).split("|")]
            for match in re.finditer(r"^\| \[\d\d\]\(\.\./notebooks/([\w.-]+\.ipynb)\) \|(.*)\|$",
                                     GUIDE.read_text(encoding="utf-8"), re.MULTILINE)}
    run_times = readme_run_times()
    for path in NOTEBOOKS:
        times = expected_times(path, run_times)
        row = guide_row(path, times)
        assert path.name in rows, f"the instructor guide's table has no row for {path.name}; add:\n{row}"
        stated = rows[path.name]
        # exact: README's run times, the exercises, their stated minutes, the quiz's questions
        assert [stated[0], stated[1], stated[3], stated[4], stated[5]] == [
            times["two_cores"], times["binder"], str(times["answers"]), str(times["exercises"]),
            str(times["questions"])], f"{path.name}: the guide's row is out of date; it is now:\n{row}"
        # within a tolerance: the reading time, and so the total (prose edits move them a little)
        assert close(int(stated[2]), times["reading"]) and close(int(stated[6]), times["total"], 0.1), \
            f"{path.name}: the times moved; the row is now:\n{row}"
    assert set(rows) == {path.name for path in NOTEBOOKS}, "a row for a removed notebook"


def test_the_90_minute_sessions_use_the_notebooks_reading_times_and_fit() -> None:
    """Each plan's reading times are the notebooks', its sums are right, and its total fits 90 minutes."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## A 90-minute session"):].split("\n## ", 1)[0]
    run_times = readme_run_times()
    sessions = re.findall(r"^- \*\*(.+?)\*\*:(.*?)(?=^- \*\*|\Z)", section, re.MULTILINE | re.DOTALL)
    assert len(sessions) == 4
    for title, plan in sessions:
        plan = " ".join(plan.split())
        for number, minutes in re.findall(r"notebook (\d\d) \((\d+) minutes of reading\)", plan):
            path = next(path for path in NOTEBOOKS if path.name.startswith(number))
            assert close(int(minutes), expected_times(path, run_times)["reading"]), f"{title}: notebook {number}"
        for terms, total in re.findall(r"\(((?:\d+ \+ )+\d+) = (\d+) minutes\)", plan):
            assert sum(map(int, terms.split(" + "))) == int(total), f"{title}: {terms} = {total}"
        reading = sum(map(int, re.findall(r"\((?:about )?(\d+) minutes of reading", plan)))
        sums = re.findall(r"\(((?:\d+ \+ )+\d+)(?: = \d+ minutes)?\)", plan) + re.findall(
            r"((?:\d+ \+ )+\d+) of exercises", plan)
        exercises = sum(int(minutes) for terms in sums for minutes in terms.split(" + "))
        quiz = sum(map(int, re.findall(r"quiz \(\d+ questions, (\d+) minutes\)", plan)))
        stated = int(re.findall(r"about (\d+) minutes", plan)[-1])
        assert stated == reading + exercises + quiz, f"{title}: {reading} + {exercises} + {quiz} != {stated}"
        assert stated <= 90, f"{title}: {stated} minutes do not fit a 90-minute session"
