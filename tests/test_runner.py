"""helpers.infra.runner and site: lessons executed headless, a failure reported while the others run,
figures embedded in the built pages, an index that links the lessons in order."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers.infra import runner, site

LESSONS = {
    "01_plots": ["from helpers import plots\nimport numpy as np",
                 "plots.sample_grid(np.zeros((4, 28, 28), 'uint8'), np.arange(4), [str(i) for i in range(10)], n=4);"],
    "02_fails": ["x = 1", "raise ValueError('this lesson breaks here')", "print('never reached')"],
    "03_after": ["print('the lesson after a failure still runs')"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = tmp_path_factory.mktemp("course")
    for lesson, cells in LESSONS.items():
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        (course / "solutions" / lesson).mkdir(parents=True)
        nbformat.write(notebook, course / "solutions" / lesson / f"{lesson}.ipynb")
    build = course / "build"
    runner.run_lessons(list(LESSONS), build, course)  # MPLBACKEND=Agg in the tests' environment (conftest)
    return build


def test_a_failing_lesson_is_reported_and_the_next_one_still_runs(built: Path) -> None:
    runs = {run["lesson"]: run for run in json.loads((built / "run.json").read_text())}
    assert runs["01_plots"]["status"] == "ok" and runs["03_after"]["status"] == "ok"
    assert runs["02_fails"]["status"] == "ValueError: this lesson breaks here"
    executed = nbformat.read(built / "03_after.ipynb", as_version=4)
    assert "still runs" in executed.cells[0].outputs[0]["text"]


def test_the_figures_are_embedded_in_the_built_page(built: Path) -> None:
    page = (built / "01_plots.html").read_text()
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', page)) == 1


def test_a_page_shows_the_error_line_not_a_raw_traceback(built: Path) -> None:
    page = (built / "02_fails.html").read_text()
    assert "ValueError: this lesson breaks here" in page
    assert "Traceback" not in page and "\x1b[" not in page


def test_the_index_links_the_lessons_in_order_with_status_time_and_results(built: Path) -> None:
    index = (built / "index.html").read_text()
    assert re.findall(r'href="(\d\d_\w+)\.html"', index) == list(LESSONS)
    assert "failed: ValueError" in index and " s</td>" in index
    assert "Measured results" in index and "fashion_frozen_accuracy" in index


def test_each_page_links_the_index_and_its_neighbours(built: Path) -> None:
    middle = (built / "02_fails.html").read_text()
    nav = middle[middle.index('<nav class="course-nav">'):]
    nav = nav[: nav.index("</nav>")]
    assert re.findall(r'href="([^"]+)"', nav) == ["index.html", "01_plots.html", "03_after.html"]
    assert site.title_of("03_training_the_head") == "03 · Training the head"
