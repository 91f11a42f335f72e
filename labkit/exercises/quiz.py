"""Self-check quizzes: multiple-choice questions with immediate feedback, whose answers are not in the source.

A quiz cell at the end of a notebook reads::

    from labkit.exercises.quiz import Question, quiz

    quiz([
        Question(
            "Why are the scores divided by √d_k before the softmax?",
            ["So that each row of weights sums to 1",
             "So that the scores keep unit scale and the softmax does not saturate",
             "So that tokens cannot attend to padding"],
            digest="…",
            explanation="sealed:…",
            hint="Part 2 measured the largest weight as d_k grows, with and without the scaling.",
        ),
    ])

and shows each question with its options lettered A, B, C, ... and a button per letter. Choosing one
says at once "Right." with the explanation, or "Not quite." with the hint, never which option is right.

* ``digest`` is ``quiz_digest(prompt, right)``: the salted SHA-256 that ``checks.answer_digest`` makes of
  the prompt and the index of the right option. The source does not say which option is right, and two
  questions whose right options share an index have different digests.
* ``explanation`` is shown for the right option. It usually names the answer, so it is *sealed*:
  ``seal(text, prompt, right)`` XORs its UTF-8 bytes with a key stream made (SHA-256) from the prompt and
  the right index, and only choosing that option opens it. An explanation that gives nothing away may
  also be plain text (no ``sealed:`` prefix).
* ``hint`` is shown for a wrong choice; it may not quote the right option.

This keeps the answers out of sight of a reader, not out of reach: anyone can try every option, which is
what the buttons are for. It is a courtesy to learners, not a lock.

For authors: ``make_question(prompt, options, right, explanation, hint)`` builds a question from the right
option's index, and ``question_source`` writes the code of a ``Question(...)`` for a notebook cell. On the
command line, ``python -m labkit.exercises.quiz "prompt" 2 --explanation "..."`` prints the digest (and the
sealed explanation), and ``python -m labkit.exercises.quiz --answers NOTEBOOK`` prints a notebook's answer
key for its instructor. ``quiz_text`` (plain text) and ``quiz_html`` render a quiz without its answers, for
slides, static pages and terminals. Bad input is refused when a question is made, with a ``ConfigError``.
"""

from __future__ import annotations

import argparse
import ast
import base64
import binascii
import copy
import functools
import hashlib
import html
import json
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConfigError
from labkit.exercises.checks import SALT, answer_digest

SEALED = "sealed:"
LETTERS = "ABCDEFGH"  # at most eight options: a question with more is a list to memorise, not a check
RIGHT, WRONG = "Right.", "Not quite."
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def _normal(text: str) -> str:
    """``text`` with its white space collapsed: re-wrapping a prompt does not change its digest."""
    return " ".join(text.split())


def quiz_digest(prompt: str, right: int) -> str:
    """The digest a ``Question`` stores: salted SHA-256 of the prompt and the index of the right option (from 0)."""
    _require_text(prompt, "the prompt")
    if isinstance(right, bool) or not isinstance(right, int) or right < 0:
        raise ConfigError(f"the right option is given by its index (0 for the first option), not {right!r}")
    return answer_digest(f"quiz:{_normal(prompt)}:{right}")


def seal(text: str, prompt: str, right: int) -> str:
    """``text`` sealed so that only choosing option ``right`` of the question ``prompt`` opens it (``sealed:...``)."""
    _require_text(text, "the explanation")
    data = text.encode("utf-8")
    payload = _tag(data) + data
    return SEALED + base64.b64encode(_xor(payload, _key_stream(prompt, right, len(payload)))).decode("ascii")


def _tag(data: bytes) -> bytes:
    return hashlib.sha256(b"labkit-quiz-tag:" + data).digest()[:4]


def _key_stream(prompt: str, right: int, length: int) -> bytes:
    seed = f"{SALT}quiz-explanation:{_normal(prompt)}:{right}".encode()
    blocks = (hashlib.sha256(seed + counter.to_bytes(4, "big")).digest() for counter in range(-(-length // 32)))
    return b"".join(blocks)[:length]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, key, strict=True))


def _unseal(sealed: str, prompt: str, index: int) -> str | None:
    """The text ``sealed`` holds if ``index`` is the option it was sealed for, else ``None``."""
    try:
        raw = base64.b64decode(sealed.removeprefix(SEALED), validate=True)
    except (binascii.Error, ValueError):
        return None
    payload = _xor(raw, _key_stream(prompt, index, len(raw)))
    tag, data = payload[:4], payload[4:]
    if len(raw) < 5 or tag != _tag(data):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _require_text(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string, not {value!r}")


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; checked when made (see the module's docstring for each field).

    ``options`` are the choices, shown as A, B, C, ...; ``digest`` is ``quiz_digest(prompt, right)``;
    ``explanation`` is shown for the right option (sealed with ``seal``, or plain); ``hint`` for a wrong one.
    """

    prompt: str
    options: Sequence[str]
    digest: str
    explanation: str
    hint: str

    def __post_init__(self) -> None:
        _require_text(self.prompt, "a question's prompt")
        where = f"question {_short(self.prompt)!r}"
        if isinstance(self.options, str) or not isinstance(self.options, Sequence):
            raise ConfigError(f"{where}: options must be a list of strings, not {type(self.options).__name__}")
        options = tuple(self.options)
        object.__setattr__(self, "options", options)
        if not 2 <= len(options) <= len(LETTERS):
            raise ConfigError(f"{where} has {len(options)} options; give between 2 and {len(LETTERS)}")
        for option in options:
            _require_text(option, f"{where}: each option")
        if len({_normal(option).lower() for option in options}) < len(options):
            raise ConfigError(f"{where}: two options are the same")
        for value, what in ((self.explanation, "its explanation"), (self.hint, "its hint")):
            _require_text(value, f"{where}: {what}")
        if not isinstance(self.digest, str) or not _HEX_DIGEST.fullmatch(self.digest):
            raise ConfigError(f"{where}: the digest must be the 64 hexadecimal digits quiz_digest(prompt, right) "
                              f"returns, not {self.digest!r}")
        matches = [index for index in range(len(options)) if quiz_digest(self.prompt, index) == self.digest]
        if not matches:
            raise ConfigError(f"{where}: the digest matches none of its {len(options)} options. Make it with "
                              "quiz_digest(prompt, index of the right option), or make_question(...); a prompt "
                              "edited after its digest was made no longer matches it")
        if len(matches) > 1:
            raise ConfigError(f"{where}: the digest matches {len(matches)} options; exactly one must be right")
        right = matches[0]
        if self.explanation.startswith(SEALED) and _unseal(self.explanation, self.prompt, right) is None:
            raise ConfigError(f"{where}: the sealed explanation was not sealed for this prompt's right option; "
                              "seal it with seal(text, prompt, right) or make_question(...)")
        if _normal(options[right]).lower() in _normal(self.hint).lower():
            raise ConfigError(f"{where}: the hint quotes the right option, so it gives the answer away")


def _short(text: str, length: int = 60) -> str:
    text = _normal(text)
    return text if len(text) <= length else text[:length - 1] + "…"


def make_question(prompt: str, options: Sequence[str], right: int, explanation: str, hint: str) -> Question:
    """The ``Question`` whose right option is ``options[right]``, with its digest made and its explanation sealed."""
    if isinstance(right, bool) or not isinstance(right, int) or not 0 <= right < len(options):
        raise ConfigError(f"question {_short(str(prompt))!r}: the right option's index must be between 0 and "
                          f"{len(options) - 1}, not {right!r}")
    return Question(prompt, tuple(options), quiz_digest(prompt, right), seal(explanation, prompt, right), hint)


def is_right(question: Question, index: int) -> bool:
    """True when option ``index`` (from 0) is the right answer to ``question``."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(question.options):
        raise ConfigError(f"choose an option between 0 and {len(question.options) - 1}, not {index!r}")
    return quiz_digest(question.prompt, index) == question.digest


def feedback(question: Question, index: int) -> str:
    """What a learner reads after choosing option ``index``: "Right." + the explanation, or "Not quite." + the hint."""
    if not is_right(question, index):
        return f"{WRONG} {question.hint}"
    explanation = question.explanation
    if explanation.startswith(SEALED):
        explanation = _unseal(explanation, question.prompt, index) or ""
    return f"{RIGHT} {explanation}"


def _checked_questions(questions: Any) -> list[Question]:
    if isinstance(questions, Question):
        questions = [questions]
    if isinstance(questions, str) or not isinstance(questions, Sequence) or not questions:
        raise ConfigError("a quiz takes a non-empty list of Question objects")
    wrong = [type(question).__name__ for question in questions if not isinstance(question, Question)]
    if wrong:
        raise ConfigError(f"a quiz takes Question objects, not {', '.join(sorted(set(wrong)))}")
    return list(questions)


def quiz_text(questions: Sequence[Question], width: int = 88) -> str:
    """The quiz as plain text, without its answers: for slides, static pages and terminals."""
    questions = _checked_questions(questions)
    count = f"{len(questions)} question{'s' if len(questions) > 1 else ''}"
    lines = [f"Self-check quiz ({count}): run this cell in Jupyter to check your answers.", ""]
    for number, question in enumerate(questions, start=1):
        lines += textwrap.wrap(f"{number}. {_normal(question.prompt)}", width, subsequent_indent="   ")
        for letter, option in zip(LETTERS, question.options, strict=False):
            lines += textwrap.wrap(f"{letter}. {_normal(option)}", width, initial_indent="   ",
                                   subsequent_indent="      ")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def quiz_html(questions: Sequence[Question]) -> str:
    """The quiz as static HTML, without its answers (every text escaped; ``$...$`` maths is left for MathJax)."""
    questions = _checked_questions(questions)
    items = "".join(f"<li>{_escape(question.prompt)}<ol type=\"A\">"
                    + "".join(f"<li>{_escape(option)}</li>" for option in question.options) + "</ol></li>"
                    for question in questions)
    return ('<div class="labkit-quiz"><p><strong>Self-check quiz</strong>: open this notebook in Jupyter and run '
            f"this cell to check your answers.</p><ol>{items}</ol></div>")


def _escape(text: str) -> str:
    return html.escape(_normal(text), quote=False)


def _question_html(number: int, question: Question) -> str:
    options = "".join(f'<div style="margin-left: 1.5em">{letter}. {_escape(option)}</div>'
                      for letter, option in zip(LETTERS, question.options, strict=False))
    return f"<p><strong>{number}.</strong> {_escape(question.prompt)}</p>{options}"


def _feedback_html(question: Question, index: int | None) -> str:
    if index is None:
        return ""
    text = feedback(question, index)
    right = text.startswith(RIGHT)
    word, rest = (RIGHT, text[len(RIGHT):]) if right else (WRONG, text[len(WRONG):])
    colour, mark = ("#1a7f37", "✔") if right else ("#b35900", "✘")
    return f'<span style="color: {colour}; font-weight: bold">{mark} {word}</span> {_escape(rest)}'


def quiz(questions: Sequence[Question]) -> Any:
    """The quiz as an ipywidgets widget: per question its options, a button per letter, and feedback on each choice.

    The returned ``QuizWidget`` (a ``VBox``) keeps ``questions``, ``choices`` (one ``ToggleButtons`` per
    question, no letter chosen at first), ``feedback`` (one ``HTMLMath`` per question) and ``score``. It
    builds without a running kernel; outside Jupyter, its text is ``quiz_text(questions)``.
    """
    return _quiz_widget_class()(_checked_questions(questions))


@functools.cache
def _quiz_widget_class() -> type:
    """``QuizWidget``, made on first use so that importing the checks does not import ipywidgets."""
    import ipywidgets as widgets

    class QuizWidget(widgets.VBox):
        """A quiz: its questions, one set of letter buttons and one feedback line each, and the running score."""

        def __init__(self, questions: list[Question]) -> None:
            choices = [widgets.ToggleButtons(options=list(LETTERS[:len(question.options)]), index=None,
                                             style={"button_width": "3em"}) for question in questions]
            feedback_lines = [widgets.HTMLMath(value="") for _ in questions]
            score = widgets.HTML(value="")
            rows = [widgets.VBox([widgets.HTMLMath(value=_question_html(number, question)), choice, line])
                    for number, (question, choice, line) in enumerate(zip(questions, choices, feedback_lines,
                                                                          strict=True), start=1)]
            super().__init__(children=[*rows, score])
            self.questions, self.choices, self.feedback, self.score = questions, choices, feedback_lines, score
            for position, choice in enumerate(choices):
                choice.observe(functools.partial(self._on_choice, position), names="index")
            self._update_score()

        def _on_choice(self, position: int, change: dict) -> None:
            self.feedback[position].value = _feedback_html(self.questions[position], change["new"])
            self._update_score()

        def _update_score(self) -> None:
            right = sum(choice.index is not None and is_right(question, choice.index)
                        for question, choice in zip(self.questions, self.choices, strict=True))
            self.score.value = f"<p><em>Right so far: {right} of {len(self.questions)}.</em></p>"

        def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle:  # without a widget manager (a static page, a terminal) the quiz still reads, without answers
                bundle["text/plain"] = quiz_text(self.questions)
                bundle["text/html"] = quiz_html(self.questions)
            return bundle

    return QuizWidget


def question_source(question: Question, indent: str = "    ", width: int = 100) -> str:
    """The code of ``Question(...)`` for a notebook cell (long strings split over lines), ending with a comma."""
    inner = indent + "    "
    options = [_literal(option, inner + " ", width) for option in question.options]
    lines = [f"{indent}Question(", f"{inner}{_literal(question.prompt, inner, width)},",
             f"{inner}[" + f",\n{inner} ".join(options) + "],", f'{inner}digest="{question.digest}",',
             f"{inner}explanation={_literal(question.explanation, inner + ' ' * 12, width)},",
             f"{inner}hint={_literal(question.hint, inner + ' ' * 5, width)},", f"{indent}),"]
    return "\n".join(lines)


def _literal(text: str, indent: str, width: int) -> str:
    """A double-quoted Python literal of ``text``, as ``("..." "...")`` on several lines when it is long."""
    room = max(40, width - len(indent) - 2)
    if len(json.dumps(text, ensure_ascii=False)) <= room:
        return json.dumps(text, ensure_ascii=False)
    if " " in text:
        pieces = [piece + " " for piece in textwrap.wrap(text, room - 2, break_long_words=False,
                                                         drop_whitespace=True)]
        pieces[-1] = pieces[-1][:-1]
        if "".join(pieces) != text:  # runs of spaces or line breaks: keep the text exact, cut anywhere
            pieces = [text[start:start + room - 4] for start in range(0, len(text), room - 4)]
    else:
        pieces = [text[start:start + room - 4] for start in range(0, len(text), room - 4)]
    quoted = [json.dumps(piece, ensure_ascii=False) for piece in pieces]
    return "(" + f"\n{indent} ".join(quoted) + ")"


def questions_in(source: str) -> list[Question]:
    """The questions a quiz cell's code makes (each ``Question(...)`` call with literal arguments), in order."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Question":
            try:
                arguments = [ast.literal_eval(argument) for argument in node.args]
                keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords}
            except ValueError as error:
                raise ConfigError(f"line {node.lineno}: a Question whose arguments are not literals: {error}") from None
            found.append(((node.lineno, node.col_offset), Question(*arguments, **keywords)))
    return [question for _, question in sorted(found, key=lambda item: item[0])]


def is_quiz_cell(cell: Any) -> bool:
    """Whether a notebook cell is a quiz cell: code that imports this module and makes ``Question``s."""
    return cell.get("cell_type") == "code" and "labkit.exercises.quiz" in cell.source and "Question(" in cell.source


def with_static_quizzes(notebook: Any) -> Any:
    """A copy of ``notebook`` whose quiz cells are markdown cells holding ``quiz_html``: for slides and static pages.

    The quiz's widget cannot run in a page without a kernel, and its code is not for reading; the questions
    and their options are shown instead, without the answers. Cell ids and metadata are kept (but for
    ``jupyter.source_hidden``, which would hide the questions themselves).
    """
    import nbformat

    copied = copy.deepcopy(notebook)
    for index, cell in enumerate(copied.cells):
        if is_quiz_cell(cell):
            metadata = {key: value for key, value in cell.metadata.items() if key != "jupyter"}  # not source_hidden
            markdown = nbformat.v4.new_markdown_cell(quiz_html(questions_in(cell.source)), metadata=metadata)
            if "id" in cell:
                markdown["id"] = cell["id"]
            copied.cells[index] = markdown
    return copied


def answer_key(path: Path | str) -> list[tuple[Question, int, str]]:
    """For an instructor: each quiz question of a notebook, the index of its right option, and its explanation."""
    import nbformat

    key = []
    for cell in nbformat.read(path, as_version=4).cells:
        if is_quiz_cell(cell):
            for question in questions_in(cell.source):
                right = next(index for index in range(len(question.options)) if is_right(question, index))
                key.append((question, right, feedback(question, right).removeprefix(RIGHT).strip()))
    return key


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m labkit.exercises.quiz "prompt" RIGHT [--explanation TEXT]`` or ``--answers NOTEBOOK ...``."""
    parser = argparse.ArgumentParser(prog="python -m labkit.exercises.quiz", description="Make a quiz question's "
                                     "digest and sealed explanation, or print a notebook's answer key.")
    parser.add_argument("prompt", nargs="?", help="the question's prompt, exactly as in the Question")
    parser.add_argument("right", nargs="?", type=int, help="the index of the right option (0 for the first)")
    parser.add_argument("--explanation", help="also seal this explanation for the right option")
    parser.add_argument("--answers", nargs="+", metavar="NOTEBOOK", help="print the answer key of these notebooks")
    arguments = parser.parse_args(argv)
    try:
        if arguments.answers:
            for path in arguments.answers:
                print(f"# {path}")
                for number, (question, right, explanation) in enumerate(answer_key(path), start=1):
                    print(f"{number}. {_normal(question.prompt)}\n   {LETTERS[right]}. "
                          f"{_normal(question.options[right])}\n   {explanation}")
            return 0
        if arguments.prompt is None or arguments.right is None:
            parser.error("give a prompt and the index of its right option, or --answers NOTEBOOK")
        print(f'digest="{quiz_digest(arguments.prompt, arguments.right)}"')
        if arguments.explanation:
            print(f'explanation="{seal(arguments.explanation, arguments.prompt, arguments.right)}"')
        return 0
    except (ConfigError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
