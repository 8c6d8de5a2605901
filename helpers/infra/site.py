"""The built course as a small website: one page per executed lesson and an index.

Pages are made by nbconvert's HTML exporter (lab template, figures embedded as images, so the
folder can be opened from disk or copied anywhere). Each page gets a navigation bar (index,
previous, next); an error output shows its one-line message, not a raw traceback; the index
lists the lessons in order with their status and time, and the results table.
"""
from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat

from helpers.infra import results
from helpers.infra.lessons import LESSONS

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STYLE = """<style>
.course-nav{font:15px system-ui,sans-serif;display:flex;gap:1.5em;padding:.6em 1em;background:#f3f5f7;
border-bottom:1px solid #d8dde2;position:sticky;top:0;z-index:10}
.course-nav a{text-decoration:none;color:#1a5fb4}.course-error{color:#a51d2d;font-weight:600}
</style>"""


def plain(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks carry them)."""
    return _ANSI.sub("", text)


def title_of(lesson: str) -> str:
    known = {entry.folder: entry.title for entry in LESSONS}
    return f"{lesson[:2]} · {known.get(lesson, lesson[3:].replace('_', ' '))}"


def short_errors(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy whose error outputs keep only their last line (``ename: evalue``)."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [plain(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}")]
    return copy


def navigation(lessons: Sequence[str], index: int) -> str:
    """The bar at the top of a lesson page: the index, the previous and the next lesson."""
    links = ['<a href="index.html">Course index</a>']
    if index > 0:
        links.append(f'<a href="{lessons[index - 1]}.html">&larr; {html.escape(title_of(lessons[index - 1]))}</a>')
    if index + 1 < len(lessons):
        links.append(f'<a href="{lessons[index + 1]}.html">{html.escape(title_of(lessons[index + 1]))} &rarr;</a>')
    return f'<nav class="course-nav">{"".join(links)}</nav>'


def lesson_page(notebook: nbformat.NotebookNode, nav: str) -> str:
    """One lesson as a standalone HTML page with the navigation bar."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(short_errors(notebook))
    body = body.replace("</head>", f"{_STYLE}</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda match: match.group(1) + nav, body, count=1)


def index_page(runs: Sequence[tuple[str, str, float]]) -> str:
    """The index: lessons in order with status and time, then the recorded figures."""
    rows = []
    for lesson, status, seconds in runs:
        shown = "ok" if status == "ok" else f'<span class="course-error">failed: {html.escape(status)}</span>'
        rows.append(f'<tr><td><a href="{lesson}.html">{html.escape(title_of(lesson))}</a></td>'
                    f"<td>{shown}</td><td>{seconds:.1f} s</td></tr>")
    total = sum(seconds for _, _, seconds in runs)
    figures = html.escape(results.format_table(results.table()))
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Transfer learning course</title>
<style>body{{font:16px system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{padding:.3em 1em;border-bottom:1px solid #ddd;text-align:left}}
pre{{font-size:12px;overflow-x:auto;background:#f6f8fa;padding:1em}}.course-error{{color:#a51d2d}}</style></head>
<body><h1>Transfer learning with TensorFlow/Keras</h1>
<p>Built {time.strftime("%Y-%m-%d %H:%M")}: {len(runs)} lessons executed in {total:.0f} s.</p>
<table><tr><th>lesson</th><th>status</th><th>time</th></tr>{"".join(rows)}</table>
<h2>Measured results</h2><pre>{figures}</pre></body></html>"""


def build(build_dir: Path, runs: Sequence[tuple[str, str, float]]) -> Path:
    """Write ``<lesson>.html`` for every executed notebook in ``build_dir`` and ``index.html``."""
    lessons = [lesson for lesson, _, _ in runs]
    for position, lesson in enumerate(lessons):
        notebook = nbformat.read(build_dir / f"{lesson}.ipynb", as_version=4)
        page = lesson_page(notebook, navigation(lessons, position))
        (build_dir / f"{lesson}.html").write_text(page, encoding="utf-8")
    index = build_dir / "index.html"
    index.write_text(index_page(runs), encoding="utf-8")
    return index
