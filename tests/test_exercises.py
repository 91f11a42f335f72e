"""Exercises: checks that never show the expected answer, and student copies of the notebooks.

The notebook-level tests hold for every notebook in ``notebooks/``: its committed student copy in
``notebooks/student/`` is what ``labkit student`` makes today; no line of a solution appears in it; and,
run in a kernel, every check cell of the student copy fails with its own ``CheckFailed`` message
before the answer is written, then passes once the instructor's solution is put back.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from labkit.cli import main
from labkit.exercises import (
    CheckFailed,
    SolutionMarkerError,
    answer_digest,
    check,
    check_close_to_reference,
    check_hashed,
    checking,
    is_check_cell,
    is_solution_cell,
    student_copy,
    write_student_copies,
)
from labkit.exercises.checks import NOT_ANSWERED, NOT_IMPLEMENTED, check_type
from labkit.exercises.student import BEGIN, END, PLACEHOLDER, rebased_links, solution_regions, student_copy_in

ROOT = Path(__file__).resolve().parent.parent
# The notebooks whose exercises use labkit.exercises.checks (issue 18, part 1: 00-07; then 08-10). Add each newer
# notebook here once its check cells are converted; its student copy then has to be committed too.
CONVERTED = {f"{n:02d}" for n in range(11)}
NOTEBOOKS = sorted(path for path in (ROOT / "notebooks").glob("*.ipynb") if path.name[:2] in CONVERTED)
STUDENT = ROOT / "notebooks" / "student"
IDS = [path.name for path in NOTEBOOKS]


# ---------------------------------------------------------------- checks

def test_a_hashed_check_passes_the_rounded_answer_and_fails_with_the_hint_only() -> None:
    digest = answer_digest(0.4957426, decimals=3)
    check_hashed(0.49571, digest, decimals=3, hint="count the ones")  # rounds to the same 0.496
    check_hashed(np.float32(0.4957), digest, decimals=3, hint="count the ones")
    with pytest.raises(CheckFailed) as failure:
        check_hashed(0.5, digest, decimals=3, hint="count the ones")
    assert str(failure.value) == "count the ones"
    assert "0.496" not in str(failure.value) and digest not in str(failure.value)


def test_hashed_whole_numbers_strings_booleans_and_arrays() -> None:
    check_hashed(109_482_240, answer_digest(109_482_240), hint="h")
    check_hashed(np.int64(9), answer_digest(9), hint="h")
    check_hashed(torch.tensor(9.0).item(), answer_digest(9), hint="h")  # 9.0 where an int is expected is still 9
    check_hashed(" too ", answer_digest("too"), hint="h")
    check_hashed(None, answer_digest(None), hint="h")
    mask = torch.eye(3, dtype=torch.bool)
    check_hashed(mask, answer_digest(mask.numpy()), hint="h")
    for wrong, digest in [(9.5, answer_digest(9)), ("tooo", answer_digest("too")), (True, answer_digest(False)),
                          (mask.int(), answer_digest(mask)), (mask.T[:2], answer_digest(mask))]:
        with pytest.raises(CheckFailed):
            check_hashed(wrong, digest, hint="h")
    assert answer_digest(1) != hashlib.sha256(b"1").hexdigest()  # salted: no table of common hashes finds it


def test_a_digest_refuses_a_value_on_a_rounding_boundary() -> None:
    with pytest.raises(ValueError, match="rounding boundary"):
        answer_digest(0.1235, decimals=3)
    assert answer_digest(0.1235, decimals=2) == answer_digest(0.12, decimals=2)


def test_close_to_reference_names_what_is_off_without_the_value() -> None:
    reference = torch.tensor([0.25, -1.5, 3.0])
    check_close_to_reference(reference + 1e-7, reference, hint="h")
    cases = {"shape (4,)": torch.zeros(4), "sign is flipped": -reference, "NaN": torch.tensor([np.nan, 1.0, 2.0]),
             "h": reference + 1}
    for message, wrong in cases.items():
        with pytest.raises(CheckFailed, match=message.replace("(", r"\(").replace(")", r"\)")) as failure:
            check_close_to_reference(wrong, reference, hint="h")
        assert "0.25" not in str(failure.value) and "1.5" not in str(failure.value)
    with pytest.raises(CheckFailed, match="True/False"):
        check_close_to_reference(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.bool), hint="h")
    check_close_to_reference(torch.tensor([1.0, -np.inf]), torch.tensor([1.0, -np.inf]), atol=0, rtol=0, hint="h")
    with pytest.raises(CheckFailed):
        check_close_to_reference(torch.tensor([-np.inf, 1.0]), torch.tensor([1.0, -np.inf]), hint="h")
    with pytest.raises(CheckFailed, match="not answered yet"):
        check_close_to_reference(..., reference, hint="h")


def test_checking_turns_every_failure_into_one_line_with_its_own_message() -> None:
    def raise_in_check(error: BaseException) -> str:
        with pytest.raises(CheckFailed) as failure:
            with checking():
                raise error
        return str(failure.value)

    assert raise_in_check(NameError("name 'answer' is not defined", name="answer")).startswith(
        "not answered yet: 'answer' is not defined")
    assert raise_in_check(NotImplementedError("your code here")) == NOT_IMPLEMENTED
    assert raise_in_check(AssertionError("a boolean (6, 6) tensor")) == "a boolean (6, 6) tensor"
    assert raise_in_check(CheckFailed("the check's own hint")) == "the check's own hint"
    assert raise_in_check(RuntimeError("The size of tensor a (5) must match\nmore")) == \
        "your code raised RuntimeError: The size of tensor a (5) must match"
    with pytest.raises(CheckFailed, match=NOT_ANSWERED[:20]):
        with checking():
            float(...)  # a `...` placeholder reaching any operation means: not answered yet
    with pytest.raises(CheckFailed, match="not answered yet"):
        check(..., "h")
    with pytest.raises(CheckFailed, match="an int"):
        check_type(3.5, int, "an int")
    check_type(np.int64(3), int, "an int")
    check_type(np.bool_(True), bool, "a bool")
    with pytest.raises(CheckFailed):
        check_type(True, int, "an int, not a bool")


def test_a_failed_check_shows_its_message_without_a_traceback_in_ipython() -> None:
    rendered = CheckFailed("look at the sign")._render_traceback_()
    assert len(rendered) == 1 and rendered[0].endswith("CheckFailed\x1b[0m: look at the sign")


# ---------------------------------------------------------------- student copies

def toy_notebook() -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("# toy\n\nYou will add."),
        nbformat.v4.new_code_cell("import math\nbase = 2"),
        nbformat.v4.new_code_cell(f"{BEGIN}\nhelper = base + 1\nanswer = helper * 2\nbase = 5\n{END}",
                                  outputs=[nbformat.v4.new_output("stream", text="6\n")], execution_count=3),
        nbformat.v4.new_code_cell("with checks.checking():\n    checks.check(answer == 6, 'h')",
                                  outputs=[nbformat.v4.new_output("stream", text="correct\n")], execution_count=4),
        nbformat.v4.new_code_cell(f"def double(x):\n    {BEGIN}\n    return 2 * x\n    {END}\n"),
        nbformat.v4.new_code_cell("print(answer, base, double(1))",
                                  outputs=[nbformat.v4.new_output("stream", text="6 5 2\n")], execution_count=5),
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_student_copy_follows_the_stated_rule() -> None:
    instructor = toy_notebook()
    before = nbformat.writes(instructor)
    student = student_copy(instructor)
    assert nbformat.writes(instructor) == before, "the instructor notebook must not change"
    # a value is expected: only the name later code reads and no earlier line binds (not `helper`, not `base`)
    assert student.cells[2].source == "answer = ...  # your answer"
    assert student.cells[4].source == f"def double(x):\n    {PLACEHOLDER}\n"  # a function body raises, indented
    assert student.cells[2].outputs == [] and student.cells[2].execution_count is None
    assert student.cells[3].outputs == [] and student.cells[3].execution_count is None  # the check cell
    assert student.cells[5].outputs == instructor.cells[5].outputs  # every other cell is unchanged
    assert [cell.id for cell in student.cells] == [cell.id for cell in instructor.cells]
    assert student.cells[0] == instructor.cells[0] and student.cells[1] == instructor.cells[1]
    namespace: dict = {}
    exec(student.cells[1].source + "\n" + student.cells[2].source + "\n" + student.cells[4].source, namespace)
    assert namespace["answer"] is Ellipsis
    with pytest.raises(NotImplementedError, match="your code here"):
        namespace["double"](1)


@pytest.mark.parametrize("source, problem", [
    (f"{BEGIN}\nx = 1", "without ### END"),
    (f"x = 1\n{END}", "without ### BEGIN"),
    (f"{BEGIN}\n{BEGIN}\nx = 1\n{END}\n{END}", "inside another"),
])
def test_broken_solution_markers_are_refused_with_the_cell_named(source: str, problem: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    with pytest.raises(SolutionMarkerError, match=problem):
        solution_regions(source, "toy, cell 0")
    if BEGIN in source:
        with pytest.raises(SolutionMarkerError, match="cell 0"):
            student_copy(notebook, "toy")


def test_labkit_student_writes_copies_and_refuses_to_overwrite_the_instructor_copy(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "lessons"
    source.mkdir()
    nbformat.write(toy_notebook(), source / "01_toy.ipynb")
    assert main(["student", str(source), "--out", str(tmp_path / "student")]) == 0
    written = nbformat.read(tmp_path / "student" / "01_toy.ipynb", as_version=4)
    assert written.cells[2].source == "answer = ...  # your answer"
    assert "01_toy.ipynb" in capsys.readouterr().out
    assert main(["student", str(source), "--out", str(source)]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert main(["student", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "x")]) == 2
    with pytest.raises(Exception, match="would overwrite"):
        write_student_copies([source / "01_toy.ipynb"], source)


def test_relative_links_are_rebased_for_the_copies_folder() -> None:
    markdown = ("[a](../docs/glossary.md#bert) [b](02_bert.ipynb#part-2) [c](https://example.org/x.md) [d](#top) "
                "![e](figures/plot.png) [f](other.ipynb)")
    assert rebased_links(markdown, Path("notebooks"), Path("notebooks/student"), {"02_bert.ipynb"}) == (
        "[a](../../docs/glossary.md#bert) [b](02_bert.ipynb#part-2) [c](https://example.org/x.md) [d](#top) "
        "![e](../figures/plot.png) [f](../other.ipynb)")


# ---------------------------------------------------------------- the kit's notebooks

def solution_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """The lines inside solution regions that appear nowhere else in the instructor notebook."""
    inside, outside = set(), []
    for cell in notebook.cells:
        lines = cell.source.splitlines()
        regions = solution_regions(cell.source) if cell.cell_type == "code" else []
        for number, line in enumerate(lines):
            in_region = any(begin < number < end for begin, end in regions)
            (inside.add(line.strip()) if in_region else outside.append(line))
    elsewhere = "\n".join(outside)
    return {line for line in inside if len(line) > 3 and not line.startswith("#") and line not in elsewhere}


def test_the_kit_has_exercises_to_check() -> None:
    count = sum(is_solution_cell(cell) for path in NOTEBOOKS for cell in nbformat.read(path, as_version=4).cells)
    assert len(NOTEBOOKS) == len(CONVERTED) and count >= 49  # 38 exercises in 00-07, 3 in 08, 3 in 09, 5 in 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_hints_an_estimate_and_a_check_cell(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if not is_solution_cell(cell):
            continue
        before = notebook.cells[index - 1]
        assert before.cell_type == "markdown" and "<details><summary>Hint" in before.source, \
            f"cell {index}: put the hints (collapsed <details>) in the markdown cell just before the answer cell"
        assert "Difficulty:" in before.source and "minutes" in before.source, f"cell {index}: difficulty and time"
        assert is_check_cell(notebook.cells[index + 1]), \
            f"cell {index}: the next cell must be a check cell (`with checks.checking():`)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_solution_text_appears_in_the_student_copy(path: Path) -> None:
    instructor = nbformat.read(path, as_version=4)
    student = student_copy(instructor, path.name)
    text = nbformat.writes(student)
    secrets = solution_lines(instructor)
    assert secrets, f"{path.name}: no solution lines found to test"
    code = "\n".join(cell.source for cell in student.cells if cell.cell_type == "code")
    assert all(line.strip() not in (BEGIN, END) for line in code.splitlines())
    leaked = [line for line in secrets if json.dumps(line)[1:-1] in text]
    assert not leaked, f"{path.name}: solution lines in the student copy: {leaked[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_committed_student_copy_is_up_to_date(path: Path) -> None:
    committed = STUDENT / path.name
    assert committed.is_file(), \
        f"no student copy of {path.name}: run `labkit student notebooks/ --out notebooks/student`"
    fresh = student_copy_in(path, STUDENT, {notebook.name for notebook in NOTEBOOKS})
    assert nbformat.read(committed, as_version=4) == fresh, \
        f"{committed} is stale: run `labkit student notebooks/ --out notebooks/student`"
    for cell in fresh.cells:  # every relative link leads somewhere from the student copy's folder
        for target in re.findall(r"\]\(([^)\s#]+)[^)\s]*\)", cell.source) if cell.cell_type == "markdown" else []:
            if not re.match(r"^[a-z]+:", target):
                assert (STUDENT / target).exists(), f"{path.name}: the student copy links to {target}, not there"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_checks_fail_with_their_own_message_until_the_solution_is_back(path: Path) -> None:
    """Run the student copy in a kernel; at each check cell, then put the instructor's answer back and check again."""
    instructor = nbformat.read(path, as_version=4)
    student = student_copy(instructor, path.name)
    client = NotebookClient(student, timeout=900, kernel_name="python3", allow_errors=True, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    checked, pending = 0, []
    with client.setup_kernel():
        for index, cell in enumerate(student.cells):
            if cell.cell_type != "code":
                continue
            if is_solution_cell(instructor.cells[index]) and not pending:
                run(client, nbformat.v4.new_code_cell(SAVE_RANDOM_STATE), index)
            error, message = run(client, cell, index)
            if is_solution_cell(instructor.cells[index]):
                assert error in (None, "NotImplementedError"), f"cell {index} (a student answer cell) raised {message}"
                pending.append(index)
            elif is_check_cell(cell):
                assert error == "CheckFailed", f"check cell {index} gave {message or 'no error'} before the answer"
                assert message.strip() and "Traceback" not in message, f"check cell {index}: {message!r}"
                run(client, nbformat.v4.new_code_cell(RESTORE_RANDOM_STATE), index)  # as if the attempt never ran
                for solution in pending:
                    assert run(client, instructor.cells[solution], solution)[0] is None, \
                        f"solution cell {solution} failed"
                pending = []
                error, message = run(client, cell, index)
                assert error is None, f"check cell {index} fails with the instructor's solution: {message}"
                checked += 1
            else:
                assert error is None, f"cell {index} (neither answer nor check) failed: {message}"
    assert checked == sum(is_check_cell(cell) for cell in student.cells) and not pending


# The failed attempt (the student's answer cell and check cell) may draw random numbers; the instructor's run
# after it must see the same random streams as the notebook does, or a later seeded measurement would change.
SAVE_RANDOM_STATE = """import random as _random, sys as _sys
_saved_random = (_random.getstate(), _sys.modules["numpy"].random.get_state() if "numpy" in _sys.modules else None,
                 _sys.modules["torch"].random.get_rng_state() if "torch" in _sys.modules else None)"""
RESTORE_RANDOM_STATE = """_random.setstate(_saved_random[0])
if _saved_random[1] is not None:
    _sys.modules["numpy"].random.set_state(_saved_random[1])
if _saved_random[2] is not None:
    _sys.modules["torch"].random.set_rng_state(_saved_random[2])"""


def run(client: NotebookClient, cell: nbformat.NotebookNode, index: int) -> tuple[str | None, str]:
    """Execute a copy of one cell in the client's kernel: (the name of the error it raised or None, its message)."""
    cell = nbformat.from_dict(json.loads(json.dumps(cell)))
    cell.outputs = []
    client.execute_cell(cell, index)
    errors = [output for output in cell.outputs if output.output_type == "error"]
    return (errors[0].ename, errors[0].evalue) if errors else (None, "")


def test_pytest_does_not_collect_the_student_copies() -> None:
    """Their exercises raise until answered, so nbval must not run them (pyproject.toml's norecursedirs)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "notebooks"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert {f"notebooks/{path.name}" for path in NOTEBOOKS} <= collected, result.stdout[-2000:]
    assert STUDENT.is_dir() and not any("student" in name for name in collected)
