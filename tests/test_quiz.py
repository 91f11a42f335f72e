"""Self-check quizzes (labkit.exercises.quiz): the right option is found by its digest and nowhere else, a wrong
choice shows the hint and not the answer, the widget builds without a kernel, the text has no answer, bad input
is refused when a question is made; and every notebook ends with a quiz that keeps these promises."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from labkit.errors import ConfigError
from labkit.exercises import quiz as quiz_module
from labkit.exercises.quiz import (
    LETTERS,
    SEALED,
    Question,
    answer_key,
    feedback,
    is_quiz_cell,
    is_right,
    main,
    make_question,
    question_source,
    questions_in,
    quiz,
    quiz_digest,
    quiz_html,
    quiz_text,
    seal,
    with_static_quizzes,
)
from labkit.exercises.student import is_check_cell, is_solution_cell, student_copy

PROMPT = "Why are the scores divided by √d_k before the softmax?"
OPTIONS = ["So that each row of weights sums to 1",
           "So that the scores keep unit scale and the softmax does not saturate",
           "So that tokens cannot attend to padding"]
EXPLANATION = "Unscaled, the scores' spread grows like √d_k, the softmax saturates and its gradient vanishes."
NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
HINT = "Part 2 measured the largest weight as d_k grows, with and without the scaling."


def by_hand(prompt: str, right: int) -> str:
    """The digest the module promises, written out here: SHA-256 of the salt, 'quiz:', the prompt and the index."""
    return hashlib.sha256(f"labkit-exercise:quiz:{prompt}:{right}".encode()).hexdigest()


def example(right: int = 1) -> Question:
    return Question(PROMPT, OPTIONS, by_hand(PROMPT, right), seal(EXPLANATION, PROMPT, right), HINT)


# ---------------------------------------------------------------- digests and feedback

def test_the_digest_is_the_salted_hash_of_the_prompt_and_the_right_index() -> None:
    assert quiz_digest(PROMPT, 2) == by_hand(PROMPT, 2)
    assert quiz_digest("  Why are the scores divided by\n √d_k before the softmax? ", 2) == by_hand(PROMPT, 2)
    assert quiz_digest("Another prompt?", 2) != quiz_digest(PROMPT, 2)  # equal indices, different digests
    assert quiz_digest(PROMPT, 2) != hashlib.sha256(f"{PROMPT}:2".encode()).hexdigest()  # salted


@pytest.mark.parametrize("right", range(len(OPTIONS)))
def test_every_digest_matches_exactly_one_option(right: int) -> None:
    for question in (example(right), make_question(PROMPT, OPTIONS, right, EXPLANATION, HINT)):
        assert [is_right(question, index) for index in range(len(OPTIONS))] == \
            [index == right for index in range(len(OPTIONS))]


def test_right_shows_the_explanation_and_wrong_shows_the_hint_without_the_answer() -> None:
    question = example(right=1)
    assert feedback(question, 1) == f"Right. {EXPLANATION}"
    for wrong in (0, 2):
        message = feedback(question, wrong)
        assert message == f"Not quite. {HINT}"
        assert OPTIONS[1] not in message and EXPLANATION not in message


def test_the_explanation_is_sealed_and_opens_only_for_the_right_option() -> None:
    sealed = seal(EXPLANATION, PROMPT, 1)
    assert sealed.startswith(SEALED) and "softmax" not in sealed and "√" not in sealed
    assert seal(EXPLANATION, PROMPT, 1) == sealed and seal(EXPLANATION, PROMPT, 2) != sealed
    assert quiz_module._unseal(sealed, PROMPT, 1) == EXPLANATION
    assert quiz_module._unseal(sealed, PROMPT, 0) is None and quiz_module._unseal(sealed, "Other?", 1) is None
    plain = Question(PROMPT, OPTIONS, by_hand(PROMPT, 0), "Nothing here names the answer.", HINT)
    assert feedback(plain, 0) == "Right. Nothing here names the answer."


# ---------------------------------------------------------------- the widget and the text

def test_the_widget_builds_without_a_kernel_and_answers_each_choice() -> None:
    second = make_question("Which mask lets a token see only the past?", ["Causal", "Padding"], 0,
                           "The causal mask is lower-triangular.", "Which one does GPT use?")
    widget = quiz([example(right=2), second])
    assert [choice.options for choice in widget.choices] == [("A", "B", "C"), ("A", "B")]
    assert all(choice.index is None for choice in widget.choices) and widget.feedback[0].value == ""
    assert "0 of 2" in widget.score.value
    widget.choices[0].index = 1  # wrong
    shown = widget.feedback[0].value
    assert "Not quite." in shown and "Part 2 measured" in shown
    assert OPTIONS[2] not in shown and "spread grows" not in shown and "0 of 2" in widget.score.value
    widget.choices[0].index = 2  # right
    assert "Right." in widget.feedback[0].value and "spread grows" in widget.feedback[0].value
    assert "1 of 2" in widget.score.value
    widget.choices[1].index = 0
    assert "2 of 2" in widget.score.value
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == quiz_text(widget.questions) and bundle["text/html"] == quiz_html(widget.questions)


def test_the_text_and_html_renderings_hold_no_answer() -> None:
    """The renderings are the same whichever option is right, and show neither explanation, digest nor seal."""
    texts = {quiz_text([example(right)]) for right in range(len(OPTIONS))}
    pages = {quiz_html([example(right)]) for right in range(len(OPTIONS))}
    assert len(texts) == 1 and len(pages) == 1
    text, page = texts.pop(), pages.pop()
    for rendering in (text, page):
        assert "spread grows" not in rendering and SEALED not in rendering and by_hand(PROMPT, 1) not in rendering
        assert all(option in rendering for option in OPTIONS)
    assert "1. Why are the scores" in text and "   C. So that tokens cannot attend to padding" in text
    assert "<b>" not in quiz_html([make_question("Is <b> escaped?", ["yes", "no"], 0, "It is.", "Look.")])


def test_question_source_writes_code_that_makes_the_same_question() -> None:
    long_prompt = "A prompt long enough to be split over several lines of the cell, " * 3
    question = make_question(long_prompt.strip(), OPTIONS, 2, EXPLANATION * 3, HINT)
    source = "quiz([\n" + question_source(question) + "\n])"
    assert max(len(line) for line in source.splitlines()) <= 100
    assert questions_in(source) == [question]
    namespace = {"Question": Question, "quiz": lambda questions: questions}
    exec(source, namespace)  # the code runs as written, in a notebook cell
    assert EXPLANATION not in source and "spread grows" not in source


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("options, problem", [
    ([], "has 0 options"),
    (["only one"], "has 1 options"),
    ("abc", "must be a list"),
    (["same", " Same "], "two options are the same"),
    (["fine", ""], "non-empty string"),
    ([f"option {n}" for n in range(len(LETTERS) + 1)], "between 2 and"),
])
def test_options_are_checked(options: object, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Question(PROMPT, options, by_hand(PROMPT, 0), "e", "h")


def test_a_digest_must_match_exactly_one_option(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="matches none of its 3 options"):
        Question(PROMPT, OPTIONS, by_hand("A prompt edited since", 1), "e", "h")
    with pytest.raises(ConfigError, match="matches none"):
        Question(PROMPT, OPTIONS, by_hand(PROMPT, 3), "e", "h")  # an index past the last option
    with pytest.raises(ConfigError, match="64 hexadecimal digits"):
        Question(PROMPT, OPTIONS, "1", "e", "h")
    monkeypatch.setattr(quiz_module, "quiz_digest", lambda prompt, right: "0" * 64)
    with pytest.raises(ConfigError, match="matches 3 options"):
        Question(PROMPT, OPTIONS, "0" * 64, "e", "h")


def test_explanations_hints_and_indices_are_checked() -> None:
    with pytest.raises(ConfigError, match="not sealed for this prompt's right option"):
        Question(PROMPT, OPTIONS, by_hand(PROMPT, 1), seal(EXPLANATION, PROMPT, 0), HINT)
    with pytest.raises(ConfigError, match="gives the answer away"):
        Question(PROMPT, OPTIONS, by_hand(PROMPT, 1), "e", f"Think: {OPTIONS[1].lower()}?")
    with pytest.raises(ConfigError, match="non-empty string"):
        Question(PROMPT, OPTIONS, by_hand(PROMPT, 1), "e", " ")
    with pytest.raises(ConfigError, match="between 0 and 2"):
        make_question(PROMPT, OPTIONS, 3, "e", "h")
    with pytest.raises(ConfigError, match="between 0 and 2"):
        is_right(example(), -1)
    with pytest.raises(ConfigError, match="index"):
        quiz_digest(PROMPT, True)
    for bad in ([], [example(), "not a question"], "text"):
        with pytest.raises(ConfigError, match="Question"):
            quiz(bad)


# ---------------------------------------------------------------- the author's and instructor's command

def test_the_command_prints_the_digest_and_a_notebooks_answer_key(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    assert main([PROMPT, "2", "--explanation", EXPLANATION]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f'digest="{by_hand(PROMPT, 2)}"'
    assert quiz_module._unseal(json.loads(printed[1].split("=", 1)[1]), PROMPT, 2) == EXPLANATION
    cell = "from labkit.exercises.quiz import Question, quiz\n\nquiz([\n" + question_source(example(1)) + "\n])"
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), path)
    assert [(right, explanation) for _, right, explanation in answer_key(path)] == [(1, EXPLANATION)]
    assert main(["--answers", str(path)]) == 0
    assert f"B. {OPTIONS[1]}" in capsys.readouterr().out
    assert main([PROMPT, "-1"]) == 2 and "index" in capsys.readouterr().err
    assert main(["--answers", str(tmp_path / "missing.ipynb")]) == 2


# ---------------------------------------------------------------- the kit's notebooks

def quiz_cells(notebook: nbformat.NotebookNode) -> list[int]:
    return [index for index, cell in enumerate(notebook.cells) if is_quiz_cell(cell)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_every_notebook_ends_with_a_quiz_that_keeps_its_answers_out_of_the_source(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    cells = quiz_cells(notebook)
    assert len(cells) == 1, f"{path.name}: {len(cells)} quiz cells"
    index = cells[0]
    cell = notebook.cells[index]
    last_check = max(position for position, other in enumerate(notebook.cells) if is_check_cell(other))
    assert index > last_check, "the quiz comes after the last exercise's check cell"
    assert not is_check_cell(cell) and not is_solution_cell(cell)
    assert notebook.cells[index - 1].source.startswith("## Self-check quiz"), "the quiz has its introduction"
    questions = questions_in(cell.source)  # each one checked: one right option, sealed explanation, honest hint
    assert 3 <= len(questions) <= 5
    rights = [next(n for n in range(len(q.options)) if is_right(q, n)) for q in questions]
    assert len(set(rights)) > 1, f"{path.name}: the right option is always {LETTERS[rights[0]]}"
    assert all(question.explanation.startswith(SEALED) for question in questions)
    for question, right in zip(questions, rights, strict=True):  # the hint never quotes the right option
        assert question.options[right].lower() not in question.hint.lower()
    assert student_copy(notebook, path.name).cells[index] == cell, "the student copy keeps the quiz as it is"


def test_static_quizzes_show_the_questions_without_code_or_answers() -> None:
    cell = "from labkit.exercises.quiz import Question, quiz\n\nquiz([\n" + question_source(example(2)) + "\n])"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A lesson"),
                                               nbformat.v4.new_code_cell(cell)])
    static = with_static_quizzes(notebook)
    assert notebook.cells[1].cell_type == "code", "the notebook itself is not changed"
    assert [c.cell_type for c in static.cells] == ["markdown", "markdown"]
    assert static.cells[1].source == quiz_html([example(2)]) and static.cells[1].id == notebook.cells[1].id
    assert "digest" not in static.cells[1].source and SEALED not in static.cells[1].source
    nbformat.validate(static)
