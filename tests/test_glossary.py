"""The documents in docs/: the glossary (one heading per term, stable anchors, links that lead somewhere) and the
instructor guide (its table of times is recomputed from the notebooks and README, so it cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from labkit.viz.site import heading_anchor

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


# ---------------------------------------------------------------- the instructor guide's table of times

GUIDE = ROOT / "docs" / "instructor_guide.md"
WORDS_PER_MINUTE = 150  # the reading pace the guide states


def readme_run_times() -> dict[str, str]:
    """Notebook file name -> the run-time cell of README's notebook table (its last column)."""
    found = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*\[`([\w.-]+\.ipynb)`\]\([^)]*\)\s*\|.*\|\s*([^|]*?)\s*\|\s*$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def expected_row(path: Path, run_times: dict[str, str]) -> list[str]:
    """The guide's row for a notebook, computed from the notebook and README."""
    notebook = nbformat.read(path, as_version=4)
    prose = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    reading = round(sum(len(text.split()) for text in prose) / WORDS_PER_MINUTE)
    answers = sum("### BEGIN SOLUTION" in cell.source for cell in notebook.cells if cell.cell_type == "code")
    stated = [int(minutes) for text in prose
              for minutes in re.findall(r"Difficulty: [\w-]+ · about (\d+) minutes", text)]
    if len(stated) == answers:
        minutes, total = str(sum(stated)), str(reading + sum(stated))
    else:
        minutes = "none stated yet" if not stated else f"{sum(stated)} (for {len(stated)})"
        total = f"{reading} + exercises"
    return [run_times.get(path.name, "not in README yet"), str(reading), str(answers), minutes, total]


def test_the_instructor_guides_times_are_the_notebooks_and_readmes() -> None:
    rows = {match.group(1): [cell.strip() for cell in match.group(2).split("|")]
            for match in re.finditer(r"^\| \[\d\d\]\(\.\./notebooks/([\w.-]+\.ipynb)\) \|(.*)\|$",
                                     GUIDE.read_text(encoding="utf-8"), re.MULTILINE)}
    run_times = readme_run_times()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        expected = expected_row(path, run_times)
        row = f"| [{path.name[:2]}](../notebooks/{path.name}) | " + " | ".join(expected) + " |"
        assert path.name in rows, f"the instructor guide's table has no row for {path.name}; add:\n{row}"
        stated = rows[path.name]
        # exact: README's run time, the number of exercises, their stated minutes, the form of the total
        assert [stated[0], stated[2], stated[3]] == [expected[0], expected[2], expected[3]], \
            f"{path.name}: the guide's row is out of date; it is now:\n{row}"
        assert re.sub(r"\d+", "N", stated[4]) == re.sub(r"\d+", "N", expected[4]), f"{path.name}: now:\n{row}"
        # within a tolerance: the reading time, and so the total (prose edits move them a little)
        for column in (1, 4):
            have, want = int(stated[column].split()[0]), int(expected[column].split()[0])
            assert abs(have - want) <= max(2, 0.15 * want), f"{path.name}: the times moved; the row is now:\n{row}"
    assert set(rows) == {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}, "a row for a removed notebook"
