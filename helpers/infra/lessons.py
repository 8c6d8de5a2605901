"""The one list of the course's lessons, in order.

Every part of the course that needs the lessons (the runner, grading's lesson matching,
the viva's question bank, the built site, the tests) reads them from here. A lesson is
one nbgrader assignment: ``solutions/<folder>/<folder>.ipynb`` is its source and
``lessons/<folder>/<folder>.ipynb`` the student version generated from it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    folder: str  # "03_training_the_head": the nbgrader assignment name
    title: str

    @property
    def number(self) -> int:
        return int(self.folder[:2])


LESSONS: tuple[Lesson, ...] = (
    Lesson("01_data_preparation", "Preparing the data"),
    Lesson("02_feature_extraction", "Feature extraction"),
    Lesson("03_training_the_head", "Training the head"),
    Lesson("04_scratch_baseline", "A baseline from scratch"),
    Lesson("05_fine_tuning", "Fine-tuning"),
    Lesson("06_exercises", "Graded exercises"),
    Lesson("07_natural_photos", "Natural photos: where transfer wins"),
    Lesson("08_limits_of_transfer", "The limits of transfer"),
    Lesson("09_common_practical", "The common practical, run as written"),
    Lesson("10_viva_review", "Explain the practical in a viva"),
)
FOLDERS: tuple[str, ...] = tuple(lesson.folder for lesson in LESSONS)


def lesson_named(name: str) -> Lesson:
    """The lesson whose folder is ``name`` or starts with the number ``name`` ('03', '3', '03_training_the_head')."""
    text = str(name).strip()
    for lesson in LESSONS:
        if text == lesson.folder or (text.isdigit() and int(text) == lesson.number):
            return lesson
    raise ValueError(f"unknown lesson {name!r}; expected one of: {', '.join(FOLDERS)} (or their numbers)")
