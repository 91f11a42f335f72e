"""Exercises: student copies of the instructor notebooks, and answer checks that do not give the answer away.

* ``checks``: ``checking()``, ``check``, ``check_hashed`` / ``answer_digest``, ``check_close_to_reference``
  and ``CheckFailed``, whose message is the check's hint (never the expected value);
* ``student``: ``student_copy`` / ``write_student_copies`` (``labkit student``): each solution region
  replaced by a placeholder, in the nbgrader convention (the rule is in that module's docstring);
* ``quiz``: self-check quizzes with immediate feedback whose answers are not in the source (``Question``,
  ``make_question``, ``is_right``, ``quiz_digest``, ``quiz_text``; the widget is ``quiz.quiz``, exported here as
  ``quiz_widget`` so that the name ``quiz`` keeps meaning the module).
"""

from __future__ import annotations

from labkit.exercises import checks, quiz
from labkit.exercises.checks import (
    CheckFailed,
    answer_digest,
    check,
    check_close_to_reference,
    check_hashed,
    checking,
)
from labkit.exercises.quiz import Question, is_right, make_question, quiz_digest, quiz_html, quiz_text
from labkit.exercises.quiz import quiz as quiz_widget
from labkit.exercises.student import (
    SolutionMarkerError,
    is_check_cell,
    is_solution_cell,
    student_copy,
    write_student_copies,
)

__all__ = [
    "checks",
    "quiz",
    "Question",
    "is_right",
    "make_question",
    "quiz_digest",
    "quiz_html",
    "quiz_text",
    "quiz_widget",
    "CheckFailed",
    "answer_digest",
    "check",
    "check_close_to_reference",
    "check_hashed",
    "checking",
    "SolutionMarkerError",
    "is_check_cell",
    "is_solution_cell",
    "student_copy",
    "write_student_copies",
]
