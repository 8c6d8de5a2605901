"""The grades CSV: one row per student and lesson, and the summary printed after grading."""
from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from helpers.infra.grading.statuses import GRADED, OK

COLUMNS = ("student", "lesson", "score", "max_score", "status", "message", "feedback")


@dataclass(frozen=True)
class GradeRow:
    """One line of the grades CSV."""

    student: str
    lesson: str
    score: float
    max_score: float | None
    status: str
    message: str = ""
    feedback: str = ""

    def as_csv(self) -> dict[str, str]:
        return {
            "student": self.student, "lesson": self.lesson, "score": number(self.score),
            "max_score": "" if self.max_score is None else number(self.max_score),
            "status": self.status, "message": self.message, "feedback": self.feedback,
        }


@dataclass
class GradingReport:
    """What ``grade`` produced: the rows (as written to ``csv_path``) and a printable summary."""

    rows: list[GradeRow]
    csv_path: Path
    summary: str = ""

    def row(self, student: str, lesson: str) -> GradeRow:
        """The row of one student's lesson (ValueError when there is none)."""
        for row in self.rows:
            if (row.student, row.lesson) == (student, lesson):
                return row
        raise ValueError(f"no row for student {student!r}, lesson {lesson!r}; "
                         f"rows: {[(r.student, r.lesson) for r in self.rows]}")


def write_csv(rows: list[GradeRow], path: Path) -> None:
    """Write the grades CSV (atomically: a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.as_csv() for row in rows)
    os.replace(temporary, path)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a grades CSV as dictionaries."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def summarize(report: GradingReport, notes: list[str], seconds: float, feedback_folder: Path,
              sandboxed: bool) -> str:
    """A few lines for the terminal: counts per status, mean score per lesson, where things are."""
    statuses = Counter(row.status for row in report.rows)
    students = sorted({row.student for row in report.rows})
    lines = [f"Graded {len(students)} students, {len(report.rows)} rows in {seconds:.0f} s "
             f"({'sandboxed' if sandboxed else 'UNSAFE: without a sandbox'}): "
             + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))]
    for lesson in sorted({row.lesson for row in report.rows if row.max_score}):
        graded = [row for row in report.rows if row.lesson == lesson and row.status in GRADED]
        if graded:
            mean = sum(row.score for row in graded) / len(graded)
            lines.append(f"  {lesson}: mean {mean:.1f} / {number(graded[0].max_score)} over {len(graded)} notebooks")
    problems = [row for row in report.rows if row.status != OK]
    lines += [f"  {row.student} {row.lesson or '-'}: {row.status}: {row.message}" for row in problems]
    lines += [f"  note: {note}" for note in notes]
    lines.append(f"Grades: {report.csv_path}")
    lines.append(f"Feedback: {feedback_folder}/<student>/<lesson>/<lesson>.html")
    return "\n".join(lines)


def number(value: float) -> str:
    return f"{value:g}"
