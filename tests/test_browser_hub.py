"""A class on a real JupyterHub (deploy/, helpers.infra.hub), clicked through in a real browser.

One story, one hub start for the module: a deployment with real system accounts (an
instructor owning a copy of the course, three students) is set up, its hub started, and
chromium plays the people:

- alice fetches lesson 01 from the Assignments tab, fills in the answers, runs every cell,
  sees the figures, validates and submits at the same moment as bob; she also submits the
  viva lesson with a written answer;
- the instructor collects and autogrades in formgrader, grades alice's written answer by
  hand, exports the grades and releases feedback, which alice fetches;
- bob resubmits after the first collection and his new notebook replaces the old one;
  carol submits nothing and shows as missing;
- alice's session cannot read bob's work or the instructor's course through the server;
- the hub restarts and every submission and grade is still there.

The tests are steps of that story and run in file order; a step whose prerequisite failed is
skipped, naming it. Needs root (system accounts), Playwright and chromium (see
tests/browser_support.py). Run it alone with: pytest -m browser tests/test_browser_hub.py
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    LONG,
    VIEWPORT,
    current_notebook,
    error_outputs,
    expect,
    free_port,
    keep_screenshot,
    launch_chromium,
    menu,
    replace_cell_source,
    require,
    run_all_and_wait,
    save_artifacts,
    save_notebook,
    sync_playwright,
    wait_for_lab,
    wait_for_notebook,
)

from helpers.infra import hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
LESSON = "01_data_preparation"  # fetched, answered and run in the browser
VIVA = "10_viva_review"  # holds the written answers an instructor grades by hand
ALICE, BOB, CAROL = "tlc-test-alice", "tlc-test-bob", "tlc-test-carol"
INSTRUCTOR = "tlc-test-instructor"
HUB_LOG = ARTIFACTS / "hub.log"


# ---------------------------------------------------------------- notebooks, read by nbgrader metadata


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _read(folder: str, lesson: str):
    return nbformat.read(REPO / folder / lesson / f"{lesson}.ipynb", as_version=4)


def student_answers(lesson: str) -> dict[int, str]:
    """Cell index -> what a student who knows the answer types: the solution cells' code
    without nbgrader's solution markers."""
    return {index: "\n".join(line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line
                             and "### END SOLUTION" not in line)
            for index, cell in enumerate(_read("solutions", lesson).cells)
            if cell.cell_type == "code" and _nbgrader(cell).get("solution")}


def task_points(lesson: str) -> list[float]:
    """Points of the lesson's test cells, in order."""
    return [float(_nbgrader(cell)["points"]) for cell in _read("lessons", lesson).cells if _nbgrader(cell).get("grade")
            and cell.cell_type == "code"]


def written_answer(lesson: str) -> tuple[int, str, float]:
    """Index, grade id and points of the lesson's first written answer: a Markdown cell that
    nbgrader grades (grade) and the student writes (solution)."""
    for index, cell in enumerate(_read("lessons", lesson).cells):
        if cell.cell_type == "markdown" and _nbgrader(cell).get("grade") and _nbgrader(cell).get("solution"):
            return index, _nbgrader(cell)["grade_id"], float(_nbgrader(cell)["points"])
    raise AssertionError(f"{lesson} has no written answer (a Markdown cell with nbgrader grade and solution)")


# ---------------------------------------------------------------- the story's state


@dataclass
class Story:
    """The deployment, its hub, the browser and the pages of each person, shared by the steps."""

    deployment: object
    browser: object
    hub_process: object = None
    password: str = ""
    contexts: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)
    done: set = field(default_factory=set)
    facts: dict = field(default_factory=dict)

    def require(self, *steps: str) -> None:
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.skip(f"needs the step(s) {', '.join(missing)}, which did not complete")

    def login(self, account: str):
        """A fresh browser session logged in as ``account``, on its JupyterLab."""
        if account in self.contexts:
            self.contexts.pop(account).close()
        context = self.browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(f"{self.deployment.url}/hub/login")
        page.fill("#username_input", account)
        page.fill("#password_input", self.password)
        page.click("#login_submit")
        wait_for_lab(page)
        self.contexts[account], self.pages[account] = context, page
        return page

    def formgrader(self, path: str = "manage_assignments"):
        """The instructor's formgrader, in its own tab (JupyterHub forbids it inside an iframe)."""
        if "formgrader" not in self.pages:
            self.pages["formgrader"] = self.contexts[INSTRUCTOR].new_page()
        page = self.pages["formgrader"]
        page.goto(f"{self.deployment.url}/user/{INSTRUCTOR}/formgrader/{path}")
        return page

    def inbound(self) -> list[str]:
        """The submissions waiting in the exchange (read as root)."""
        folder = self.deployment.exchange / self.deployment.course_id / "inbound"
        return sorted(entry.name for entry in folder.iterdir())


@pytest.fixture(scope="module")
def story():
    missing = hub.missing_prerequisites()
    require(not missing, f"the class server needs {'; '.join(missing)}")
    playwright = sync_playwright()
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    deployment = hub.ClassDeployment(
        root=Path("/srv/tlcourse-test"), instructor=INSTRUCTOR, students=(ALICE, BOB, CAROL),
        port=free_port(), hub_port=free_port(), proxy_api_port=free_port(), profile="quick")
    hub.remove(deployment)  # what a crashed run left behind
    HUB_LOG.parent.mkdir(parents=True, exist_ok=True)
    HUB_LOG.unlink(missing_ok=True)
    started = time.monotonic()
    hub.setup(deployment, lessons=[LESSON, VIVA])
    print(f"\nclass set up in {time.monotonic() - started:.0f} s")
    with playwright as driver:
        browser = launch_chromium(driver)
        tale = Story(deployment, browser, password=hub.password(deployment))
        try:
            tale.hub_process = hub.start(deployment, HUB_LOG)
            yield tale
        finally:
            browser.close()
            if tale.hub_process is not None:
                hub.stop(tale.hub_process)
            hub.remove(deployment)


@pytest.fixture(autouse=True)
def keep_failure_artifacts(story, request):
    """On failure: screenshots of every open page and the hub's log under build/browser/<test>/."""
    failures = request.session.testsfailed
    yield
    if request.session.testsfailed > failures:
        print(f"artifacts: {save_artifacts(request.node.name, story.contexts.values(), [HUB_LOG])}")


# ---------------------------------------------------------------- students: the Assignments tab


def open_assignments(page):
    menu(page, "Nbgrader", "Assignment List")
    page.locator("#released_assignments_list_loading").wait_for(state="hidden")
    return page


def fetched_row(page, lesson: str):
    return page.locator("#fetched_assignments_list > .list_item", has_text=lesson)


def submitted_row(page, lesson: str):
    return page.locator("#submitted_assignments_list > .list_item", has_text=lesson)


def fetch(page, lesson: str) -> None:
    page.locator("#released_assignments_list > .list_item", has_text=lesson).get_by_role("button", name="Fetch").click()
    fetched_row(page, lesson).wait_for()


def open_fetched(page, lesson: str, cells: int):
    """Open the lesson's notebook from the Assignments tab; the notebook once its cells are in."""
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    row = fetched_row(page, lesson)
    notebook_link = row.locator(".nested_list_item a", has_text=lesson)
    if not notebook_link.is_visible():
        row.locator("a.assignment-notebooks-link").click()
    notebook_link.click()
    return wait_for_notebook(page, cells)


def click_submit(page, lesson: str) -> None:
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetched_row(page, lesson).get_by_role("button", name="Submit").click()


def wait_submitted(page, lesson: str, times: int = 1) -> None:
    """Wait until the Assignments tab lists ``times`` submissions of the lesson."""
    submitted_row(page, lesson).locator(".nested_list_item").nth(times - 1).wait_for(timeout=LONG)


def home_notebook(account: str, lesson: str):
    """The student's copy of a fetched lesson, as saved on the server (read as root)."""
    return nbformat.read(hub.home(account) / lesson / f"{lesson}.ipynb", as_version=4)


# ---------------------------------------------------------------- the story


def test_student_fetches_answers_runs_and_sees_figures(story):
    page = open_assignments(story.login(ALICE))
    for lesson in (LESSON, VIVA):
        page.locator("#released_assignments_list > .list_item", has_text=lesson).wait_for()
    fetch(page, LESSON)
    page.locator(".jp-DirListing-item", has_text=LESSON).wait_for()  # the file browser shows the fetched folder
    keep_screenshot(page, "assignments-tab.png")
    cells = len(_read("lessons", LESSON).cells)
    notebook = open_fetched(page, LESSON, cells)
    answers = student_answers(LESSON)
    assert answers, f"{LESSON} has no solution cells to answer"
    for index, text in answers.items():
        replace_cell_source(page, notebook, index, text)
    run_all_and_wait(page)
    assert error_outputs(notebook) == []
    assert notebook.locator(".jp-OutputArea-output img").count() >= 1, "no figure rendered in the page"
    save_notebook(page)
    saved = home_notebook(ALICE, LESSON)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell was not run"
    assert [o for cell in code for o in cell.outputs if o.output_type == "error"] == []
    assert any("image/png" in o.get("data", {}) for cell in code for o in cell.outputs), "no figure saved"
    story.done.add("alice answered")


def test_student_validates_and_sees_it_pass(story):
    story.require("alice answered")
    page = story.pages[ALICE]
    current_notebook(page).locator(".validate-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=LONG)
    assert dialog.locator("#validation-message.validation-success").count() == 1, dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    dialog.get_by_role("button", name="Ok").click()
    story.done.add("alice validated")


def test_two_students_submitting_at_the_same_moment_both_arrive(story):
    story.require("alice validated")
    bob = open_assignments(story.login(BOB))
    fetch(bob, LESSON)
    alice = story.pages[ALICE]
    alice.locator(".lm-TabBar-tab", has_text="Assignments").click()
    before = story.inbound()
    click_submit(alice, LESSON)  # the two clicks go out together: neither waits for its answer
    click_submit(bob, LESSON)
    wait_submitted(alice, LESSON)
    wait_submitted(bob, LESSON)
    arrived = sorted(set(story.inbound()) - set(before))
    assert [name.split("+")[:2] for name in arrived] == [[ALICE, LESSON], [BOB, LESSON]], arrived
    # nbgrader names each submission <student>+<lesson>+<time>+<random>: not guessable by other students
    assert all(len(name.split("+")) == 4 for name in arrived), arrived
    story.done.add("both submitted")


def test_student_writes_a_viva_answer_and_submits_it(story):
    story.require("alice validated")
    page = story.pages[ALICE]
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetch(page, VIVA)
    index, grade_id, _ = written_answer(VIVA)
    notebook = open_fetched(page, VIVA, len(_read("lessons", VIVA).cells))
    answer = "BatchNorm keeps the statistics it learned on ImageNet: frozen, in inference mode, so small batches cannot move them."
    replace_cell_source(page, notebook, index, answer)
    page.keyboard.press("Shift+Enter")  # render it, as a student finishing the cell does
    save_notebook(page)
    assert home_notebook(ALICE, VIVA).cells[index].source == answer
    click_submit(page, VIVA)
    wait_submitted(page, VIVA)
    story.facts["written"] = (grade_id, answer)
    story.done.add("viva submitted")


def _dismiss(modal) -> str:
    text = modal.inner_text()
    modal.locator("button[data-dismiss=modal]").first.click()
    modal.wait_for(state="detached")
    return text


def collect(story, lesson: str) -> str:
    page = story.formgrader()
    page.locator("tr", has_text=lesson).locator("td.collect a").click()
    modal = page.locator("#success-modal, #error-modal")
    modal.wait_for(timeout=LONG)
    assert modal.get_attribute("id") == "success-modal", modal.inner_text()
    return _dismiss(modal)


def autograde(story, lesson: str, student: str) -> str:
    """Autograde one submission in formgrader; its row's score afterwards."""
    page = story.formgrader(f"manage_submissions/{lesson}")
    row = page.locator("tr", has_text=student)
    row.locator("td.autograde a").click()
    modal = page.locator("#success-modal, #error-modal")
    modal.wait_for(timeout=LONG)
    assert modal.get_attribute("id") == "success-modal", modal.inner_text()
    _dismiss(modal)
    score = row.locator("td.score")
    score.filter(has_text="/").wait_for()
    return score.inner_text().strip()


def test_instructor_collects_and_autogrades_in_formgrader(story):
    story.require("both submitted")
    story.login(INSTRUCTOR)
    log = collect(story, LESSON)
    assert f"Collecting submission: {ALICE} {LESSON}" in log and f"Collecting submission: {BOB} {LESSON}" in log
    page = story.formgrader()
    assert page.locator("tr", has_text=LESSON).locator("td.num-submissions").inner_text().strip() == "2"
    full = sum(task_points(LESSON))
    assert autograde(story, LESSON, ALICE) == f"{full:g} / {full:g}"
    story.done.add("alice graded")


def test_resubmission_replaces_the_collected_one(story):
    story.require("alice graded")
    bob = story.pages[BOB]
    first_answer = min(student_answers(LESSON))  # bob now answers the first task only
    notebook = open_fetched(bob, LESSON, len(_read("lessons", LESSON).cells))
    replace_cell_source(bob, notebook, first_answer, student_answers(LESSON)[first_answer])
    save_notebook(bob)
    click_submit(bob, LESSON)
    wait_submitted(bob, LESSON, times=2)
    log = collect(story, LESSON)
    assert f"Updating submission: {BOB} {LESSON}" in log, log
    course = story.deployment.course_dir
    collected = nbformat.read(course / "gradebook" / "submitted" / BOB / LESSON / f"{LESSON}.ipynb", as_version=4)
    assert collected.cells[first_answer].source == student_answers(LESSON)[first_answer]
    first_task_points = task_points(LESSON)[0]
    assert autograde(story, LESSON, BOB) == f"{first_task_points:g} / {sum(task_points(LESSON)):g}"
    page = story.formgrader(f"manage_submissions/{LESSON}")
    for student in (ALICE, BOB):
        expect(page.locator("tr", has_text=student).locator("td.status")).to_have_text("graded")
    keep_screenshot(page, "formgrader-submissions.png")
    story.done.add("bob graded")


def test_student_who_submits_nothing_shows_as_missing(story):
    story.require("alice graded")
    page = story.formgrader(f"manage_students/{CAROL}")
    row = page.locator("tr", has_text=LESSON)
    row.filter(has_text="(no submission)").wait_for()
    assert row.locator("td.score").inner_text().strip().startswith("0 /")


def formgrade_inputs_ready(page, grade_id: str):
    """The score input of a grade cell on formgrader's grading page, once the page has loaded the
    grade and comment and bound the inputs that save them (it sets their placeholders then)."""
    page.locator(f'input.extra-credit[id="{grade_id}_extra_credit"][placeholder]').wait_for()
    page.locator(f'textarea.comment[id="{grade_id}-comment"][placeholder]').wait_for()
    return page.locator(f'input.score[id="{grade_id}"]')


def test_instructor_grades_a_written_answer_by_hand(story):
    story.require("viva submitted", "alice graded")
    grade_id, answer = story.facts["written"]
    collect(story, VIVA)
    autograde(story, VIVA, ALICE)
    page = story.formgrader(f"manage_students/{ALICE}/{VIVA}")
    page.locator("td.name a", has_text=VIVA).click()
    score = formgrade_inputs_ready(page, grade_id)
    assert answer in page.locator("body").inner_text()  # the instructor reads what alice wrote
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
        score.fill("2")
        score.press("Tab")
    assert saved.value.ok and saved.value.json()["manual_score"] == 2
    comment = page.locator(f'textarea[id="{grade_id}-comment"]')
    remark = "Right: frozen and in inference mode. Say what the moving statistics are."
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT") as saved:
        comment.fill(remark)
        comment.press("Tab")
    assert saved.value.ok
    page.reload()
    formgrade_inputs_ready(page, grade_id)
    expect(page.locator(f'input.score[id="{grade_id}"]')).to_have_value("2")
    expect(page.locator(f'textarea[id="{grade_id}-comment"]')).to_have_value(remark)
    story.done.add("written graded")


def test_exported_grades_hold_the_manual_score(story):
    story.require("written graded", "bob graded")
    course = story.deployment.course_dir
    hub.run_as(story.deployment, INSTRUCTOR, ["nbgrader", "export", "--to", "exported.csv"], cwd=course)
    with open(course / "exported.csv", newline="", encoding="utf-8") as handle:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(handle)}
    assert float(rows[(VIVA, ALICE)]["score"]) == 2.0  # the manual grade; her code answers are blank
    assert float(rows[(LESSON, ALICE)]["score"]) == sum(task_points(LESSON))
    assert float(rows[(LESSON, BOB)]["score"]) == task_points(LESSON)[0]
    assert rows[(LESSON, CAROL)]["timestamp"] in ("", "None") and float(rows[(LESSON, CAROL)]["score"]) == 0
    story.done.add("exported")


def test_feedback_is_released_and_the_student_sees_the_score(story):
    story.require("alice graded")
    page = story.formgrader()
    row = page.locator("tr", has_text=LESSON)
    for column in ("generate-feedback", "release-feedback"):
        row.locator(f"td.{column} a").click()
        modal = page.locator("#success-modal, #error-modal")
        modal.wait_for(timeout=LONG)
        assert modal.get_attribute("id") == "success-modal", modal.inner_text()
        _dismiss(modal)
        row = page.locator("tr", has_text=LESSON)
    alice = story.pages[ALICE]
    alice.locator(".lm-TabBar-tab", has_text="Assignments").click()
    alice.locator("#refresh_assignments_list").click()
    submitted = submitted_row(alice, LESSON)
    submitted.filter(has_text="feedback available to fetch").wait_for()
    submitted.get_by_role("button", name="Fetch Feedback").click()
    submitted_row(alice, LESSON).locator("a", has_text="view feedback").wait_for()
    full = sum(task_points(LESSON))
    feedback = sorted((Path(f"/home/{ALICE}") / LESSON / "feedback").glob(f"*/{LESSON}.html"))
    assert feedback, "no feedback fetched into the student's folder"
    relative = feedback[-1].relative_to(Path(f"/home/{ALICE}")).as_posix()
    viewer = story.contexts[ALICE].new_page()
    viewer.goto(f"{story.deployment.url}/user/{ALICE}/files/{relative}")
    assert f"Score: {full:.1f} / {full:.1f}" in viewer.locator("body").inner_text()
    viewer.close()
    story.done.add("feedback")


def test_a_student_cannot_read_other_work_through_the_server(story):
    story.require("both submitted")
    deployment = story.deployment
    request = story.contexts[ALICE].request  # alice's browser session (her cookies)
    url = deployment.url
    own = request.get(f"{url}/user/{ALICE}/api/contents")
    assert own.status == 200 and own.json()["type"] == "directory"
    for other in (f"/user/{BOB}/api/contents", f"/user/{INSTRUCTOR}/api/contents/course",
                  f"/user/{INSTRUCTOR}/files/course/nbgrader_config.py", f"/user/{INSTRUCTOR}/formgrader"):
        response = request.get(url + other, max_redirects=5)
        assert response.status in (403, 404), f"{other}: {response.status} {response.text()[:200]}"
    # A student with a terminal can point links anywhere; Unix permissions still stop the server.
    inbound = deployment.exchange / deployment.course_id / "inbound"
    targets = {"peek-course": deployment.course_dir, "peek-gradebook": deployment.course_dir / "gradebook",
               "peek-bob": hub.home(BOB), "peek-inbound": inbound}
    for name, target in targets.items():
        hub.run_as(deployment, ALICE, ["ln", "-sfn", str(target), name])
        response = request.get(f"{url}/user/{ALICE}/api/contents/{name}")
        assert response.status in (403, 404, 500), f"{name} -> {target}: {response.status} {response.text()[:200]}"
        assert "solutions" not in response.text() and BOB not in response.text()
    for path in ("peek-course/nbgrader_config.py", f"peek-bob/{LESSON}/{LESSON}.ipynb"):
        response = request.get(f"{url}/user/{ALICE}/files/{path}")
        assert response.status in (403, 404, 500), f"{path}: {response.status}"
    # Kernels talk over Unix sockets in the user's own runtime folder, not TCP any user can reach.
    runtime = hub.home(ALICE) / ".local" / "share" / "jupyter" / "runtime"
    connections = [json.loads(path.read_text()) for path in runtime.glob("kernel-*.json")]
    assert connections and all(info["transport"] == "ipc" for info in connections), connections


def test_hub_restart_keeps_submissions_and_grades(story):
    story.require("bob graded")
    inbound = story.inbound()
    hub.stop(story.hub_process)  # stops every user's server too
    story.hub_process = None
    for context in story.contexts.values():
        context.close()
    story.contexts.clear()
    story.pages.clear()
    story.hub_process = hub.start(story.deployment, HUB_LOG)
    assert story.inbound() == inbound
    story.login(INSTRUCTOR)
    page = story.formgrader(f"manage_submissions/{LESSON}")
    full = sum(task_points(LESSON))
    expect(page.locator("tr", has_text=ALICE).locator("td.score")).to_have_text(f"{full:g} / {full:g}")
    expect(page.locator("tr", has_text=BOB).locator("td.score")).to_have_text(f"{task_points(LESSON)[0]:g} / {full:g}")
    if "written graded" in story.done:
        grade_id, _ = story.facts["written"]
        page = story.formgrader(f"manage_students/{ALICE}/{VIVA}")
        page.locator("td.name a", has_text=VIVA).click()
        expect(formgrade_inputs_ready(page, grade_id)).to_have_value("2")
