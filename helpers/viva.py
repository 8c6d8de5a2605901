"""The viva question bank (helpers/question_bank/<lesson>.json), the quizzes and the course's figures.

The bank is data: instructors extend it without touching code. Each item has
``id`` (unique), ``question``, ``lesson`` (a lesson folder name such as
``03_training_the_head``) and ``answer`` (a model answer); a multiple-choice
item also has ``choices`` (3 or 4 strings) and ``correct`` (the index of the
right choice). These are *practice* items: students see their answers.

A *graded* item (``"graded": true``) is a multiple-choice question of the graded
quiz of lesson 10. It has ``choices`` but neither ``correct`` nor ``answer``: the
bank ships with every student copy, so the key lives only in the instructor's
source, the hidden test of ``solutions/10_viva_review`` (tests check that the two
agree). Graded items are left out of the "check your understanding" sections and
of the practice quiz, and ``score_quiz`` refuses them: the graded attempt gets no
right/wrong feedback, so it cannot be passed by trial and error.

The bank is checked every time it is loaded, so a bad edit fails loudly with the
item's id. Every lesson's "check your understanding" section shows that lesson's
practice questions; lesson 10 draws a seeded practice quiz from the
multiple-choice ones and shows the graded quiz.
"""
from __future__ import annotations

import hashlib
import inspect
import json
from numbers import Integral
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from helpers.infra.lessons import FOLDERS

BANK_DIR = Path(__file__).with_name("question_bank")  # one JSON list per lesson folder
LESSONS = FOLDERS
REQUIRED_KEYS = ("id", "lesson", "question", "answer")  # "answer" is not allowed in a graded item
OPTIONAL_KEYS = ("choices", "correct", "graded")
LETTERS = "abcd"
NOT_MEASURED = "not measured yet - run lessons 03-05 first"
# The measured results a viva answer quotes (names from helpers.infra.results.FIGURES).
VIVA_FIGURES = (
    "fashion_reference_accuracy",
    "fashion_frozen_accuracy",
    "fashion_transfer_4000_accuracy",
    "fashion_scratch_15000_accuracy",
    "fashion_random_mobilenet_accuracy",
    "fashion_finetuned_accuracy",
    "mnist_finetuned_accuracy",
    "cached_head_speedup_per_epoch",
)


# ----------------------------------------------------------------- the bank


def load_bank(path: Path | str = BANK_DIR) -> list[dict[str, Any]]:
    """Every question of the bank after checking it (ValueError on a bad item): a folder holding one
    ``<lesson>.json`` list per lesson, read in lesson order, or one JSON file."""
    source = Path(path)
    files = [source / f"{lesson}.json" for lesson in LESSONS] if source.is_dir() else [source]
    items: list[Any] = []
    for file in files:
        if not file.is_file() and source.is_dir():
            continue
        try:
            items += json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"question bank {file} is not valid JSON: {error}") from None
    validate_bank(items)
    return items


def validate_bank(items: Any) -> None:
    """Raise a ValueError naming the first item that breaks the bank's format."""
    if not isinstance(items, list):
        raise ValueError(f"the question bank must be a JSON list of items, got {type(items).__name__}")
    seen: set[str] = set()
    for position, item in enumerate(items):
        name = f"item {position}" + (f" ({item.get('id')!r})" if isinstance(item, dict) and "id" in item else "")
        problem = _item_problem(item)
        if problem:
            raise ValueError(f"question bank {name}: {problem}")
        if item["id"] in seen:
            raise ValueError(f"question bank {name}: id {item['id']!r} is used twice; ids must be unique")
        seen.add(item["id"])


def _item_problem(item: Any) -> str | None:
    """What is wrong with one bank item, or None."""
    if not isinstance(item, dict):
        return f"expected an object with keys {list(REQUIRED_KEYS)}, got {type(item).__name__}"
    graded = item.get("graded", False)
    if graded is not True and "graded" in item:
        return f"'graded' must be true (or left out for a practice item), got {graded!r}"
    required = [key for key in REQUIRED_KEYS if not (graded and key == "answer")]
    missing = [key for key in required if key not in item]
    if missing:
        return f"missing key(s) {missing}"
    unknown = sorted(set(item) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        return f"unknown key(s) {unknown}; allowed: {list(REQUIRED_KEYS + OPTIONAL_KEYS)}"
    empty = [key for key in required if not isinstance(item[key], str) or not item[key].strip()]
    if empty:
        return f"{empty} must be non-empty strings"
    if item["lesson"] not in LESSONS:
        return f"lesson {item['lesson']!r} is not a lesson folder; expected one of {list(LESSONS)}"
    if graded:
        revealing = [key for key in ("correct", "answer") if key in item]
        if revealing or "choices" not in item:
            return (f"a graded item has 'choices' and no {revealing or ['correct', 'answer']}: its key must not ship "
                    "with the bank (it lives in the hidden test of solutions/10_viva_review)")
    elif ("choices" in item) != ("correct" in item):
        return "a multiple-choice item needs both 'choices' and 'correct'"
    if "choices" in item:
        choices, correct = item["choices"], item.get("correct", 0)
        if not isinstance(choices, list) or not 3 <= len(choices) <= len(LETTERS):
            return f"'choices' must be a list of 3 to {len(LETTERS)} strings, got {choices!r}"
        if not all(isinstance(choice, str) and choice.strip() for choice in choices):
            return "every choice must be a non-empty string"
        if len(set(choices)) != len(choices):
            return "choices must be different from each other"
        if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct < len(choices):
            return f"'correct' must be an index between 0 and {len(choices) - 1}, got {correct!r}"
    return None


def is_multiple_choice(item: dict[str, Any]) -> bool:
    """True for an item with choices (practice or graded), False for a written question."""
    return "choices" in item


def is_graded(item: dict[str, Any]) -> bool:
    """True for a question of the graded quiz (no key in the bank)."""
    return item.get("graded", False) is True


def questions_for(lesson: str) -> list[dict[str, Any]]:
    """The bank's practice questions for one lesson folder name (ValueError for an unknown lesson)."""
    if lesson not in LESSONS:
        raise ValueError(f"unknown lesson {lesson!r}; expected one of {list(LESSONS)}")
    return [item for item in load_bank() if item["lesson"] == lesson and not is_graded(item)]


def graded_quiz() -> list[dict[str, Any]]:
    """The questions of the graded quiz, in bank order (the order the answers are given in)."""
    return [item for item in load_bank() if is_graded(item)]


def format_item(item: dict[str, Any], number: int, answer: bool = False) -> str:
    """One question as text: the question, lettered choices, and optionally the model answer."""
    lines = [f"{number}. {item['question']}"]
    lines += [f"   {LETTERS[i]}) {choice}" for i, choice in enumerate(item.get("choices", []))]
    if answer and not is_graded(item):  # a graded item has no key or model answer to show
        if is_multiple_choice(item):
            lines.append(f"   Correct: {LETTERS[item['correct']]})")
        lines.append(f"   Model answer: {item['answer']}")
    return "\n".join(lines)


def show_questions(lesson: str, answers: bool = False) -> None:
    """Print a lesson's check-your-understanding questions (with model answers if asked)."""
    items = questions_for(lesson)
    if not items:
        raise ValueError(f"the question bank has no questions for lesson {lesson!r}")
    print("\n\n".join(format_item(item, number, answers) for number, item in enumerate(items, 1)))


# ----------------------------------------------------------------- the quiz


class QuizScore(NamedTuple):
    """Right answers, questions asked, and one feedback line per question."""

    score: int
    max_score: int
    feedback: list[str]


def draw_quiz(
    n: int,
    seed: int,
    lessons: Sequence[str] | None = None,
    multiple_choice_only: bool = True,
    bank: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``n`` different practice questions, the same for the same seed on any machine.

    Items are ranked by a seeded hash of their id, so the draw does not depend on
    the bank's order or wording, and adding questions changes a quiz only where a
    new item ranks among the first ``n``. ``bank`` defaults to ``load_bank()``.
    """
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"seed must be an int, got {seed!r}")
    chosen = list(LESSONS) if lessons is None else list(lessons)
    unknown = [lesson for lesson in chosen if lesson not in LESSONS]
    if isinstance(lessons, str) or unknown or not chosen:
        raise ValueError(f"lessons must be a non-empty list of lesson folders from {list(LESSONS)}, got {lessons!r}")
    if bank is None:
        bank = load_bank()
    else:
        validate_bank(list(bank))
    pool = [
        item
        for item in bank
        if item["lesson"] in chosen and not is_graded(item) and (is_multiple_choice(item) or not multiple_choice_only)
    ]
    if n > len(pool):
        kind = "multiple-choice questions" if multiple_choice_only else "questions"
        raise ValueError(f"asked for {n} questions but the bank has only {len(pool)} {kind} for lessons {chosen}")
    return sorted(pool, key=lambda item: hashlib.sha256(f"{int(seed)}:{item['id']}".encode()).hexdigest())[: int(n)]


def show_quiz(items: Sequence[dict[str, Any]]) -> None:
    """Print a quiz, numbered, with lettered choices and no answers."""
    print("\n\n".join(format_item(item, number) for number, item in enumerate(items, 1)))


def check_answer_format(items: Sequence[dict[str, Any]], answers: Sequence[Any]) -> None:
    """Raise a ValueError unless there is one valid letter (or index) per question; says nothing
    about which answers are right, so a graded quiz can be checked before it is handed in."""
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise ValueError(f"answers must be a list with one answer per question, got {type(answers).__name__}")
    if len(answers) != len(items):
        raise ValueError(f"expected {len(items)} answers (one per question), got {len(answers)}")
    missing = [number for number, (item, answer) in enumerate(zip(items, answers), 1) if answer_index(answer, item) is None]
    if missing:
        raise ValueError(f"questions {missing} have no answer yet (None)")
    print(f"{len(answers)} answers recorded; the grader scores them")


def answer_index(answer: Any, item: dict[str, Any]) -> int | None:
    """A student's answer as a choice index: an int index or a letter 'a'..'d'; None means not answered."""
    if answer is None:
        return None
    n_choices = len(item["choices"])
    if isinstance(answer, str) and len(answer.strip()) == 1 and answer.strip().lower() in LETTERS[:n_choices]:
        return LETTERS.index(answer.strip().lower())
    if isinstance(answer, Integral) and not isinstance(answer, bool) and 0 <= answer < n_choices:
        return int(answer)
    raise ValueError(
        f"answer {answer!r} to question {item['id']!r} must be a letter 'a'..'{LETTERS[n_choices - 1]}' "
        f"or an index 0..{n_choices - 1} (or None if not answered)"
    )


def score_quiz(items: Sequence[dict[str, Any]], answers: Sequence[Any]) -> QuizScore:
    """One point per right answer of a practice quiz, with per-item feedback that points to the lesson
    to review. Graded questions are refused: only the grader knows their key."""
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise ValueError(f"answers must be a list with one answer per question, got {type(answers).__name__}")
    if len(answers) != len(items):
        raise ValueError(f"expected {len(items)} answers (one per question), got {len(answers)}")
    written = [item["id"] for item in items if not is_multiple_choice(item)]
    if written:
        raise ValueError(f"only multiple-choice questions can be scored; written questions: {written}")
    graded = [item["id"] for item in items if is_graded(item)]
    if graded:
        raise ValueError(f"graded questions are scored only by the grader, not here: {graded}")
    score, feedback = 0, []
    for number, (item, answer) in enumerate(zip(items, answers), 1):
        chosen = answer_index(answer, item)
        if chosen is None:
            feedback.append(f"{number}. not answered - review {item['lesson']}")
        elif chosen == item["correct"]:
            score += 1
            feedback.append(f"{number}. correct")
        else:
            feedback.append(f"{number}. not correct ({LETTERS[chosen]}) - review {item['lesson']}")
    return QuizScore(score, len(items), feedback)


# ----------------------------------------------------------------- figures for the viva


def architecture_figures(backbone: str = "mobilenet_v2", size: int = 96, num_classes: int = 10) -> dict[str, Any]:
    """Layer count, feature-map shape and parameter counts of the transfer model, computed now.

    Built with ``weights=None``: shapes and counts do not depend on the weight
    values, so this needs no asset and takes a few seconds.
    """
    from helpers import models

    model = models.build_transfer_model(backbone, size=size, num_classes=num_classes, weights=None)
    base = models.base_of(model)
    whole, head = models.parameter_counts(model), models.parameter_counts(model.get_layer("head"))
    return {
        "backbone": backbone,
        "size": size,
        "base_layers": len(base.layers),
        "feature_map": tuple(int(d) for d in base.output.shape[1:]),
        "pooled_features": int(base.output.shape[-1]),
        "trainable": whole.trainable,
        "non_trainable": whole.non_trainable,
        "head_parameters": head.total,
    }


def recorded_figures(names: Sequence[str] | None = None) -> dict[str, str]:
    """Figures the lessons recorded (helpers.infra.results) as text, "0.864 [0.852, 0.876]" with the 95%
    interval when there is one, or NOT_MEASURED for the missing ones. By default: VIVA_FIGURES plus every
    other recorded accuracy."""
    from helpers.infra import results

    stored = results.load()
    if names is None:
        names = list(dict.fromkeys([*VIVA_FIGURES, *sorted(n for n in stored if "accuracy" in n)]))
    return {name: _as_text(stored[name]) if name in stored else NOT_MEASURED for name in names}


def _as_text(entry: dict[str, Any]) -> str:
    interval = entry.get("interval")
    value = f"{entry['measured']:.3f}"
    return value if not interval else f"{value} [{interval[0]:.3f}, {interval[1]:.3f}]"


def describe_figure(name: str) -> str:
    """A figure's description from helpers.infra.results.FIGURES, or its name."""
    from helpers.infra import results

    figure = results.FIGURES.get(name)
    return figure.description if figure else name.replace("_", " ")


def annotated_source(function: Callable[..., Any], notes: dict[str, str]) -> str:
    """``function``'s source with ``<-- note`` after the first line containing each key.

    A ValueError names any key not found, so an explanation cannot drift from the code.
    """
    lines = inspect.getsource(function).splitlines()
    missing = [key for key in notes if not any(key in line for line in lines)]
    if missing:
        raise ValueError(f"{function.__qualname__} has no line containing {missing}; update the notes")
    marked = {key: next(i for i, line in enumerate(lines) if key in line) for key in notes}
    width = max(len(lines[i]) for i in marked.values())
    for key, index in marked.items():
        lines[index] = f"{lines[index]:<{width}}  # <-- {notes[key]}"
    return "\n".join(lines)
