"""The laptop check: plain JupyterLab as a student starts it from the README, in a real browser.

The solved lesson 01 (a copy of solutions/, so the repository's notebook is never saved
with outputs) is opened in `jupyter lab` from this environment, every cell is run from the
Run menu, and the page must show no error and at least one rendered figure. Needs
Playwright and chromium (see tests/browser_support.py); run alone with:
pytest -m browser tests/test_browser_laptop.py
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from browser_support import (
    ARTIFACTS,
    VIEWPORT,
    error_outputs,
    free_port,
    launch_chromium,
    run_all_and_wait,
    save_artifacts,
    save_notebook,
    sync_playwright,
    wait_for_lab,
    wait_for_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = "01_data_preparation"
SERVER_LOG = ARTIFACTS / "laptop-jupyterlab.log"


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """`jupyter lab <folder>` from this environment on a free port; yields its URL and token."""
    folder = tmp_path_factory.mktemp("laptop")
    shutil.copytree(os.path.join(REPO, "solutions", LESSON), folder / LESSON)
    port, token = free_port(), secrets.token_hex(16)
    environment = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # a laptop's shell
    environment["JUPYTER_CONFIG_DIR"] = str(folder / ".jupyter-config")  # no settings from this machine's user
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(SERVER_LOG, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", str(folder), "--no-browser", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", "--allow-root",
             f"--LabApp.user_settings_dir={folder / '.lab-settings'}", f"--LabApp.workspaces_dir={folder / '.lab-workspaces'}"],
            env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not start; see {SERVER_LOG}") from None
                time.sleep(0.25)
        yield url, token, folder
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_solved_lesson_runs_in_jupyterlab_with_figures_and_no_error(jupyterlab, request):
    url, token, folder = jupyterlab
    cells = len(nbformat.read(os.path.join(REPO, "solutions", LESSON, f"{LESSON}.ipynb"), as_version=4).cells)
    with sync_playwright() as driver:
        browser = launch_chromium(driver)
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        page = context.new_page()
        try:
            page.goto(f"{url}/lab/tree/{LESSON}/{LESSON}.ipynb?token={token}")
            wait_for_lab(page)
            notebook = wait_for_notebook(page, cells)
            run_all_and_wait(page)
            assert error_outputs(notebook) == []
            assert notebook.locator(".jp-OutputArea-output img").count() >= 1, "no figure rendered in the page"
            save_notebook(page)
        except Exception:
            save_artifacts(request.node.name, [context], [SERVER_LOG])
            raise
        finally:
            browser.close()
    saved = nbformat.read(folder / LESSON / f"{LESSON}.ipynb", as_version=4)
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell was not run"
    assert [o.ename for cell in code for o in cell.outputs if o.output_type == "error"] == []
    assert any("image/png" in o.get("data", {}) for cell in code for o in cell.outputs), "no figure saved"
