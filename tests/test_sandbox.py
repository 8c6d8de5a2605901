"""The grading sandbox and the limits, on small notebooks run by the course's nbgrader Execute.

Each test starts real kernels (a second or two each, no TensorFlow): in the bubblewrap sandbox,
or with the limits only (``--unsafe``). tests/test_grading_sandbox.py grades a class of hostile
lesson notebooks end to end. Without bubblewrap these tests are skipped, unless
COURSE_REQUIRE_SANDBOX=1 (CI sets it), where they fail.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from helpers.infra import sandbox
from helpers.infra.grading.execute import GradingExecute
from helpers.infra.grading.statuses import ENAMES, NOT_RUN

REPO = Path(__file__).resolve().parents[1]

if sandbox.sandbox_problem() is not None and os.environ.get("COURSE_REQUIRE_SANDBOX") != "1":
    pytest.skip(f"no sandbox here: {sandbox.sandbox_problem()}", allow_module_level=True)


def run(cells: list[str], sandboxed: bool = True, timeout: int = 30, iopub_timeout: int = 10,
        **limits: str) -> tuple[list, GradingExecute]:
    """Execute ``cells`` (each a 1-point test cell) as nbgrader's autograde would; returns the cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(notebook.cells):
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"test_{index}", "points": 1, "solution": False,
                                     "locked": True, "schema_version": 3}
    saved = {name: os.environ.get(name) for name in limits}
    os.environ.update(limits)
    try:
        execute = GradingExecute(timeout=timeout, interrupt_on_timeout=True, iopub_timeout=iopub_timeout,
                                 kernel_name="python3", sandbox=sandboxed)
        execute.preprocess(notebook, {"metadata": {"path": str(REPO)}})
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
    return notebook.cells, execute


def text(cell) -> str:
    return "".join(str(output.get("text", "")) for output in cell.outputs)


def enames(cell) -> list[str]:
    return [output.ename for output in cell.outputs if output.output_type == "error"]


def scores(cells) -> list[float]:
    return [determine_grade(cell)[0] for cell in cells]


# ---------------------------------------------------------------- limits and refusal (no kernel)


def test_limits_have_defaults_and_read_the_environment():
    assert sandbox.Limits.from_environment({}) == sandbox.Limits()
    limits = sandbox.Limits.from_environment({"COURSE_GRADING_MEMORY_GB": "1.5", "COURSE_CELL_TIMEOUT": "60",
                                              "COURSE_GRADING_OUTPUT_MB": "2"})
    assert (limits.memory_bytes, limits.cell_timeout, limits.output_bytes) == (int(1.5 * 2**30), 60, 2_000_000)
    assert limits.address_space_bytes == 3 * limits.memory_bytes + 2 * 2**30


@pytest.mark.parametrize("value", ["0", "-2", "lots", "nan"])
def test_a_bad_limit_is_refused_by_name(value):
    with pytest.raises(ValueError, match=f"COURSE_GRADING_CPU_SECONDS must be a positive number, got '{value}'"):
        sandbox.Limits.from_environment({"COURSE_GRADING_CPU_SECONDS": value})


def test_refusal_says_why_and_what_to_use_instead():
    message = sandbox.refusal("this is darwin; the sandbox needs Linux namespaces")
    assert "darwin" in message and "container" in message and "JupyterHub" in message and "--unsafe" in message


def test_the_sandbox_sees_an_allowlist_not_the_course():
    layout = sandbox.course_layout()
    assert REPO / "helpers" in layout.readonly and Path(sys.prefix).resolve() in layout.readonly
    assert not [path for path in layout.readonly if path in (REPO, REPO / "solutions", Path.home())]
    arguments = sandbox.bwrap_arguments(Path("/tmp/scratch"), layout, {"HOME": "/tmp/scratch"})
    assert arguments.count("--bind") == 1 and "--unshare-all" in arguments and "--clearenv" in arguments


# ---------------------------------------------------------------- inside the sandbox


def test_a_sandboxed_kernel_sees_only_its_scratch_folder_and_no_network():
    cells, _ = run([
        "import os, socket\nprint(os.getuid(), os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'])",
        f"print(sorted(os.listdir({str(REPO)!r})))",
        f"for path in [{str(REPO / 'helpers' / 'x.py')!r}, {str(REPO / 'solutions' / 'x')!r}, {str(Path.home() / 'x')!r}, "
        "'/x', os.path.expanduser('~/mine')]:\n"
        "    try:\n        open(path, 'w').close(); print('wrote', path)\n"
        "    except OSError as error:\n        print('refused', type(error).__name__)",
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\nexcept OSError as error:\n    print('no network')",
        "import helpers\nprint('helpers imports')",
    ])
    assert text(cells[0]) == f"{sandbox.SANDBOX_UID} True\n"
    assert set(eval(text(cells[1]))) <= {"helpers", ".venv", ".cache"}  # no solutions/, lessons/, gradebook/
    assert text(cells[2]).count("refused") == 4 and text(cells[2]).count("wrote") == 1  # only the scratch folder
    assert text(cells[3]) == "no network\n" and text(cells[4]) == "helpers imports\n"
    assert not (REPO / "helpers" / "x.py").exists() and not (Path.home() / "x").exists()


def test_the_scratch_folder_is_removed_afterwards():
    cells, _ = run(["import os\nprint(os.environ['HOME'])"])
    assert not Path(text(cells[0]).strip()).exists()


# ---------------------------------------------------------------- a notebook is always graded


def test_a_kernel_that_exits_scores_the_cells_before_it():
    cells, execute = run(["print(1)", "import os\nos._exit(3)", "print(2)"])
    assert execute.stopped == ("kernel died", "exit code 3")
    assert enames(cells[1]) == [ENAMES["kernel died"]] and enames(cells[2]) == [NOT_RUN]
    assert scores(cells) == [1, 0, 0]


def test_a_kernel_that_kills_itself_is_reported():
    cells, _ = run(["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print(2)"])
    assert enames(cells[0]) == [ENAMES["kernel died"]] and "exit code 137" in cells[0].outputs[-1].evalue


def test_memory_past_the_limit_stops_the_kernel():
    hog = "import numpy\nblocks = []\nwhile True:\n    blocks.append(numpy.ones(2**23))"  # 64 MB at a time
    cells, execute = run(["print(1)", hog, "print(2)"], COURSE_GRADING_MEMORY_GB="0.25")
    assert execute.stopped[0] == "memory limit" and scores(cells) == [1, 0, 0]


def test_one_huge_allocation_fails_at_once():
    cells, execute = run(["import numpy\nnumpy.ones(2**40, dtype=numpy.uint8)", "print(2)"], COURSE_GRADING_MEMORY_GB="1")
    assert enames(cells[0]) == ["MemoryError"] and execute.stopped is None and scores(cells) == [0, 1]


def test_cpu_time_past_the_limit_stops_the_kernel():
    cells, execute = run(["while True:\n    pass"], timeout=60, COURSE_GRADING_CPU_SECONDS="2")
    assert execute.stopped[0] == "cpu limit" and enames(cells[0]) == [ENAMES["cpu limit"]]


def test_a_fork_bomb_stops_the_kernel():
    fork = "import os, time\nfor _ in range(200):\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)"
    cells, execute = run([fork + "\ntime.sleep(5)"])
    assert execute.stopped[0] == "process limit"


def test_filling_the_scratch_disk_stops_the_kernel():
    writer = ("import time\nfor n in range(20):\n    open(f'file{n}', 'wb').write(b'x' * 10**7)\n    time.sleep(0.3)\n"
              "time.sleep(5)")
    cells, execute = run([writer], COURSE_GRADING_DISK_GB="0.05")
    assert execute.stopped[0] == "disk limit"


def test_output_is_capped_and_a_flooding_cell_interrupted():
    cells, execute = run(["print(1)", "while True:\n    print('x' * 1000)", "print('after')"],
                         COURSE_GRADING_OUTPUT_MB="0.5")
    kept = sum(len(str(output)) for cell in cells for output in cell.outputs)
    assert kept < 600_000 and "output limit" in text(cells[1])
    assert enames(cells[1]) == ["KeyboardInterrupt", ENAMES["output limit"]] and execute.stopped is None
    assert scores(cells) == [1, 0, 1]


def test_output_that_goes_on_after_the_interrupt_stops_the_kernel():
    stubborn = "while True:\n    try:\n        print('y' * 1000)\n    except KeyboardInterrupt:\n        pass"
    cells, execute = run([stubborn, "print(2)"], COURSE_GRADING_OUTPUT_MB="0.5")
    assert execute.stopped[0] == "output limit" and enames(cells[1]) == [NOT_RUN]


def test_a_cell_past_its_time_limit_that_ignores_the_interrupt_stops_the_kernel():
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
    cells, execute = run([stubborn, "print(2)"], timeout=3, iopub_timeout=3)
    assert execute.stopped[0] == "timeout" and enames(cells[1]) == [NOT_RUN]


def test_active_content_is_not_kept():
    cells, _ = run(["from IPython.display import HTML, Javascript, display\n"
                    "display(HTML('<script>alert(1)</script>'), Javascript('alert(2)'))"])
    assert all(set(output.data) == {"text/plain"} for output in cells[0].outputs)
    assert "<script>" not in str(cells[0].outputs)


# ---------------------------------------------------------------- a failed test stays failed


def test_a_displayed_number_is_not_read_as_partial_credit():
    hook = "get_ipython().events.register('pre_run_cell', lambda *args: get_ipython().displayhook(1.0))"
    cells, _ = run([hook, "assert False"])
    assert scores(cells)[1] == 0


def test_a_silenced_traceback_still_fails_its_cell():
    cells, _ = run(["get_ipython().showtraceback = lambda *args, **kwargs: None", "assert False, 'hidden'", "print(1)"])
    assert enames(cells[1]) == ["AssertionError"] and scores(cells)[1:] == [0, 1]


def test_without_the_sandbox_the_limits_still_hold():
    cells, execute = run(["import os\nprint(1)", "os._exit(0)", "print(2)"], sandboxed=False)
    assert execute.stopped == ("kernel died", "exit code 0") and scores(cells) == [1, 0, 0]


def test_a_kernel_that_cannot_start_says_what_it_wrote(monkeypatch):
    monkeypatch.setattr(sandbox, "limited_command", lambda command, limits: [sys.executable, "-c", "import no_such_module"])
    with pytest.raises(RuntimeError, match="the kernel wrote: .*No module named 'no_such_module'"):
        run(["print(1)"])
