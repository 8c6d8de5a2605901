"""The question bank's integrity, the seeded quiz, its scoring, and the viva's figures."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from helpers import viva

CORE_LESSONS = viva.LESSONS[:-1]  # every lesson but the viva itself


@pytest.fixture(scope="module")
def bank() -> list[dict]:
    return viva.load_bank()


def mc_item(**changes) -> dict:
    item = {"id": "x-1", "lesson": "03_training_the_head", "question": "Q?", "answer": "A.",
            "choices": ["one", "two", "three"], "correct": 2}
    item.update(changes)
    return item


def without(item: dict, key: str) -> dict:
    return {name: value for name, value in item.items() if name != key}


# ----------------------------------------------------------------- bank integrity


def test_bank_is_large_enough_and_covers_every_lesson(bank):
    per_lesson = Counter(item["lesson"] for item in bank)
    assert len(bank) >= 40
    assert sum(viva.is_multiple_choice(item) for item in bank) >= 15
    assert set(per_lesson) == set(viva.LESSONS)
    # Lessons 01-07 show these as their "check your understanding" section: 4 to 7 each.
    assert all(4 <= per_lesson[lesson] <= 7 for lesson in CORE_LESSONS), per_lesson


def practice(bank: list[dict]) -> list[dict]:
    return [item for item in bank if not viva.is_graded(item)]


def test_every_answer_is_a_real_explanation(bank):
    short = [item["id"] for item in practice(bank) if len(item["answer"]) < 100 or item["answer"].count(".") < 2]
    assert not short, f"model answers too short to explain anything: {short}"


def test_multiple_choice_answers_are_spread_over_the_letters(bank):
    # A quiz whose right answer is mostly "b" can be passed without reading.
    positions = Counter(item["correct"] for item in practice(bank) if viva.is_multiple_choice(item))
    assert max(positions.values()) <= 0.4 * sum(positions.values()), positions


def test_fixed_course_facts_are_stated(bank):
    text = " ".join(item["answer"] for item in practice(bank))
    for fact in ("12,810", "2,257,984", "154", "3x3x1280", "20,490", "23,587,712", "from_logits=True"):
        assert fact in text, fact


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"id": "x-1", "lesson": "03_training_the_head", "question": "Q?"}, "missing key"),
        (mc_item(lesson="09_extra"), "not a lesson folder"),
        (mc_item(correct=3), "'correct' must be an index between 0 and 2"),
        (mc_item(correct=True), "'correct' must be an index"),
        (mc_item(choices=["only", "two"]), "'choices' must be a list of 3"),
        ({"id": "x-1", "lesson": "03_training_the_head", "question": "Q?", "answer": "A.", "correct": 0},
         "needs both"),
        (mc_item(answer="  "), "non-empty strings"),
        (mc_item(hint="extra"), "unknown key"),
        (mc_item(graded=True), "no \\['correct', 'answer'\\]"),
        (without(mc_item(graded=True), "answer"), "no \\['correct'\\]"),
        (without(mc_item(graded=True), "correct"), "no \\['answer'\\]"),
        ({"id": "x-1", "lesson": "10_viva_review", "question": "Q?", "graded": True}, "has 'choices'"),
        (mc_item(graded="yes"), "'graded' must be true"),
    ],
)
def test_a_bad_item_is_rejected_by_name(tmp_path: Path, item: dict, message: str):
    good = {"id": "good-1", "lesson": "01_data_preparation", "question": "Q?", "answer": "A."}
    path = tmp_path / "bank.json"
    path.write_text(json.dumps([good, item]))
    with pytest.raises(ValueError, match=message) as error:
        viva.load_bank(path)
    assert "item 1 ('x-1')" in str(error.value)


def test_duplicate_ids_and_broken_json_are_rejected(tmp_path: Path):
    path = tmp_path / "bank.json"
    path.write_text(json.dumps([mc_item(), mc_item()]))
    with pytest.raises(ValueError, match="used twice"):
        viva.load_bank(path)
    path.write_text("[{")
    with pytest.raises(ValueError, match="not valid JSON"):
        viva.load_bank(path)


def test_show_questions_prints_choices_and_answers_only_on_request(capsys, bank):
    first_mc = next(item for item in bank if item["lesson"] == "05_fine_tuning" and viva.is_multiple_choice(item))
    viva.show_questions("05_fine_tuning")
    quiet = capsys.readouterr().out
    assert first_mc["question"] in quiet and f"a) {first_mc['choices'][0]}" in quiet
    assert "Model answer" not in quiet
    viva.show_questions("05_fine_tuning", answers=True)
    assert first_mc["answer"] in capsys.readouterr().out


def test_unknown_lesson_is_a_value_error():
    with pytest.raises(ValueError, match="unknown lesson '3_training'"):
        viva.questions_for("3_training")


# ----------------------------------------------------------------- the quiz


def test_quiz_is_reproducible_without_repeats():
    first, again = viva.draw_quiz(10, seed=8), viva.draw_quiz(10, seed=8)
    ids = [item["id"] for item in first]
    assert ids == [item["id"] for item in again]
    assert len(set(ids)) == 10
    assert all(viva.is_multiple_choice(item) for item in first)
    assert ids != [item["id"] for item in viva.draw_quiz(10, seed=9)]


def test_quiz_respects_lessons_and_written_questions(bank):
    only = viva.draw_quiz(3, seed=1, lessons=["05_fine_tuning"])
    assert {item["lesson"] for item in only} == {"05_fine_tuning"}
    everything = viva.draw_quiz(len(practice(bank)), seed=1, multiple_choice_only=False)
    assert sorted(item["id"] for item in everything) == sorted(item["id"] for item in practice(bank))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1000, "seed": 1}, "only"),
        ({"n": 0, "seed": 1}, "positive int"),
        ({"n": 3.0, "seed": 1}, "positive int"),
        ({"n": 3, "seed": "1"}, "seed must be an int"),
        ({"n": 3, "seed": 1, "lessons": "05_fine_tuning"}, "non-empty list"),
        ({"n": 3, "seed": 1, "lessons": ["5_fine_tuning"]}, "non-empty list"),
    ],
)
def test_quiz_rejects_bad_requests(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        viva.draw_quiz(**kwargs)


def test_scoring_right_wrong_and_partial_answers():
    quiz = viva.draw_quiz(10, seed=8)
    right = [item["correct"] for item in quiz]
    wrong = [(index + 1) % len(item["choices"]) for index, item in zip(right, quiz)]
    assert viva.score_quiz(quiz, right)[:2] == (10, 10)
    assert viva.score_quiz(quiz, wrong).score == 0
    # Letters count like indices; None is "not answered".
    partial = [viva.LETTERS[i].upper() for i in right[:6]] + wrong[6:8] + [None, None]
    score, max_score, feedback = viva.score_quiz(quiz, partial)
    assert (score, max_score) == (6, 10)
    assert feedback[0] == "1. correct"
    assert feedback[6].startswith("7. not correct") and quiz[6]["lesson"] in feedback[6]
    assert feedback[9].startswith("10. not answered")


def test_feedback_does_not_give_the_right_choice_away():
    quiz = viva.draw_quiz(10, seed=8)
    wrong = [(item["correct"] + 1) % len(item["choices"]) for item in quiz]
    feedback = viva.score_quiz(quiz, wrong).feedback
    assert all(item["choices"][item["correct"]] not in line for item, line in zip(quiz, feedback))


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["a"] * 9, "expected 10 answers"),
        ("abcdabcdab", "must be a list"),
        (["e"] + ["a"] * 9, "must be a letter"),
        ([4] + ["a"] * 9, "or an index 0"),
        ([True] + ["a"] * 9, "must be a letter"),
        ([1.0] + ["a"] * 9, "must be a letter"),
    ],
)
def test_scoring_rejects_bad_answers(answers, message: str):
    quiz = [mc_item(id=f"x-{i}", choices=["p", "q", "r", "s"], correct=1) for i in range(10)]
    with pytest.raises(ValueError, match=message):
        viva.score_quiz(quiz, answers)


# ----------------------------------------------------------------- the graded quiz (issue 14)


def test_graded_quiz_ships_without_its_key(bank):
    graded = viva.graded_quiz()
    assert len(graded) == 10 and all(viva.is_multiple_choice(item) for item in graded)
    assert not [item["id"] for item in graded if {"correct", "answer"} & set(item)]
    files = " ".join(path.read_text(encoding="utf-8") for path in viva.BANK_DIR.glob("*.json"))
    assert files.count('"graded": true') == len(graded)


def test_graded_questions_are_neither_practice_nor_scored_here(bank, capsys):
    graded = viva.graded_quiz()
    ids = {item["id"] for item in graded}
    assert not ids & {item["id"] for lesson in viva.LESSONS for item in viva.questions_for(lesson)}
    assert not ids & {item["id"] for item in viva.draw_quiz(len(practice(bank)), 1, multiple_choice_only=False)}
    with pytest.raises(ValueError, match="scored only by the grader"):
        viva.score_quiz(graded, ["a"] * len(graded))
    print(viva.format_item(graded[0], 1, answer=True))
    shown = capsys.readouterr().out
    assert graded[0]["question"] in shown and "Correct" not in shown and "Model answer" not in shown


def test_answer_format_check_says_nothing_about_right_or_wrong(capsys):
    graded = viva.graded_quiz()
    viva.check_answer_format(graded, ["a"] * len(graded))
    assert capsys.readouterr().out == f"{len(graded)} answers recorded; the grader scores them\n"
    with pytest.raises(ValueError, match=r"questions \[2\] have no answer"):
        viva.check_answer_format(graded, ["a", None] + ["b"] * (len(graded) - 2))
    with pytest.raises(ValueError, match="expected 10 answers"):
        viva.check_answer_format(graded, ["a"])


def test_written_questions_cannot_be_scored(bank):
    written = [item for item in bank if not viva.is_multiple_choice(item)][:1]
    with pytest.raises(ValueError, match="only multiple-choice"):
        viva.score_quiz(written, ["a"])


# ----------------------------------------------------------------- figures for the viva


def test_architecture_figures_are_the_course_facts():
    figures = viva.architecture_figures()
    assert figures["base_layers"] == 154
    assert figures["feature_map"] == (3, 3, 1280)
    assert (figures["trainable"], figures["non_trainable"]) == (12_810, 2_257_984)
    assert figures["head_parameters"] == 12_810


def test_recorded_figures_read_the_results_store_with_their_intervals(full_profile):
    from helpers.infra import results

    assert viva.recorded_figures()["fashion_frozen_accuracy"] == viva.NOT_MEASURED
    results.record("fashion_frozen_accuracy", 0.871, interval=(0.859, 0.883), epochs=5)
    results.record("fashion_reference_accuracy", 0.85)
    figures = viva.recorded_figures()
    assert figures["fashion_frozen_accuracy"] == "0.871 [0.859, 0.883]"
    assert figures["fashion_reference_accuracy"] == "0.850"
    assert figures["mnist_finetuned_accuracy"] == viva.NOT_MEASURED
    assert viva.describe_figure("fashion_reference_accuracy").startswith("Fashion-MNIST, the published recipe")


def test_annotated_source_marks_lines_and_refuses_stale_notes():
    from helpers.models import build_transfer_model

    text = viva.annotated_source(build_transfer_model, {"InferenceMode(base": "transfer"})
    marked = [line for line in text.splitlines() if line.endswith("# <-- transfer")]
    assert len(marked) == 1 and "InferenceMode(base" in marked[0]
    with pytest.raises(ValueError, match="no line containing"):
        viva.annotated_source(build_transfer_model, {"no such code": "x"})


def test_a_question_outside_the_quiz_does_not_change_the_draw(bank):
    # Instructors can extend the bank without changing lesson 08's graded quiz (unless a new item ranks in).
    quiz = viva.draw_quiz(10, seed=8)
    left_out = [item for item in bank if item not in quiz]
    smaller = [item for item in bank if item is not left_out[0]]
    assert viva.draw_quiz(10, seed=8, bank=smaller) == quiz
