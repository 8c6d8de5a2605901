"""What the browser tests share: the system's chromium driven by Playwright, JupyterLab's
controls, and what is kept when a test fails.

Playwright's own browser download is never used: the tests launch Debian's ``chromium``
(``CHROMIUM``, or the ``COURSE_CHROMIUM`` variable). Without Playwright, chromium or (for the
class server) root, the tests are skipped with the reason; ``COURSE_BROWSER_TESTS=required``
(set by ``.ci/run``) turns that skip into a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "build" / "browser"  # screenshots and server logs of the browser tests
SCREENSHOTS = REPO / "docs" / "images"  # the README's screenshots, refreshed with COURSE_UPDATE_SCREENSHOTS=1
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
# Root in CI needs --no-sandbox; the rest keeps chromium off the (closed) network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 800}
LONG = 300_000  # ms: running a lesson or autograding it on a busy 2-core machine


def require(condition: bool, why: str) -> None:
    """Skip (or fail, when COURSE_BROWSER_TESTS=required) unless ``condition`` holds."""
    if condition:
        return
    if os.environ.get("COURSE_BROWSER_TESTS") == "required":
        pytest.fail(f"{why} (COURSE_BROWSER_TESTS=required)")
    pytest.skip(why)


def sync_playwright():
    """Playwright's synchronous driver (use as a context manager)."""
    try:
        from playwright.sync_api import sync_playwright as driver
    except ImportError:
        require(False, "Playwright is not installed: pip install -r deploy/requirements-browser.txt")
    return driver()


def expect(target):
    """Playwright's auto-waiting assertions (imported when used: Playwright is optional)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def launch_chromium(playwright):
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save_artifacts(name: str, contexts, logs: list[Path]) -> Path:
    """A screenshot of every open page and a copy of the server logs, under build/browser/<name>/."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(page for context in contexts for page in context.pages):
        try:
            page.screenshot(path=folder / f"page{number}.png", full_page=True)
            (folder / f"page{number}.url").write_text(page.url, encoding="utf-8")
        except Exception as error:  # a crashed page must not hide the failure being recorded
            (folder / f"page{number}.error").write_text(repr(error), encoding="utf-8")
    for log in logs:
        if log.exists():
            shutil.copy(log, folder / log.name)
    return folder


def keep_screenshot(page, name: str, locator=None) -> Path:
    """Screenshot for the README: always into build/browser/screenshots/, and into docs/images/
    (as a small palette PNG) when COURSE_UPDATE_SCREENSHOTS=1."""
    path = ARTIFACTS / "screenshots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    (locator or page).screenshot(path=path)
    if os.environ.get("COURSE_UPDATE_SCREENSHOTS") == "1":
        from PIL import Image

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=128).save(SCREENSHOTS / name, optimize=True)
    return path


# ---------------------------------------------------------------- JupyterLab


def wait_for_lab(page, timeout: int = LONG) -> None:
    page.wait_for_selector("#jp-main-dock-panel", timeout=timeout)


def menu(page, top: str, item: str) -> None:
    """Click a menu bar entry, then one of its items (exact label)."""
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()


def current_notebook(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def wait_for_notebook(page, cells: int, timeout: int = LONG):
    """The open notebook, once its ``cells`` cells are in the page and its kernel is idle
    (cells run before the kernel is connected are silently dropped)."""
    notebook = current_notebook(page)
    notebook.locator(".jp-Cell").nth(cells - 1).wait_for(state="attached", timeout=timeout)
    notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(state="attached", timeout=timeout)
    return notebook


def replace_cell_source(page, notebook, index: int, text: str) -> None:
    """Replace the source of cell ``index`` as a user does: click in it, select all, type."""
    cell = notebook.locator(".jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    if "jp-MarkdownCell" in (cell.get_attribute("class") or ""):
        cell.dblclick()  # a rendered Markdown cell opens its editor on double click
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def run_all_and_wait(page, timeout: int = LONG) -> None:
    """Run > Run All Cells, then wait until every code cell has run, or until the run stopped at
    an error (JupyterLab leaves the cells after it unrun)."""
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            const stopped = [...panel.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes('Traceback'));
            return prompts.length > 0 && !prompts.some(p => p.includes('*'))
                && (prompts.every(p => /\\[\\d+\\]/.test(p)) || stopped);
        }""",
        timeout=timeout)


def error_outputs(notebook) -> list[str]:
    """Texts of the error outputs shown in the notebook (tracebacks)."""
    texts = notebook.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
    return [text for text in texts if "Traceback" in text or re.search(r"^\w+(Error|Exception)\b", text, re.M)]


def save_notebook(page) -> None:
    """Ctrl+S, then wait until the tab no longer shows unsaved changes."""
    page.keyboard.press("Control+s")
    page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for(state="detached", timeout=60_000)
