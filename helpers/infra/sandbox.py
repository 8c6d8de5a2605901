"""Kernels for untrusted code: every autograded notebook runs in one (issue 14).

``SandboxKernelManager`` is the jupyter_client kernel manager nbgrader's ``Execute`` uses for
this course (``nbgrader_config.py`` installs it through ``helpers.infra.grading.GradingExecute``),
so ``python -m helpers grade``, ``nbgrader autograde`` and formgrader's autograde button all run
student code the same way: inside Debian's bubblewrap (``bwrap``) with

* a new mount namespace built from an allowlist: the system's ``/usr`` and a few files of
  ``/etc``, the Python installation and its virtual environment, the course's ``helpers``
  package, the asset mirror, Keras's weights and the instructor's course cache, all read-only;
  ``solutions/``, the gradebook, other students' files and the grader's home are not there;
* one writable scratch folder per kernel, which is its ``HOME``, working directory and
  ``TMPDIR`` (with its own writable ``COURSE_CACHE``; the instructor's cache is a read-only
  layer, ``COURSE_CACHE_READONLY``), deleted when the kernel ends;
* no network (a new network namespace; the kernel talks to the grader over jupyter_client's
  IPC transport, Unix sockets in the scratch folder), its own PID namespace, no capabilities,
  an unprivileged user id and a clean environment.

``LimitedKernelManager`` (the base, also used alone by ``--unsafe``) enforces the limits of
:class:`Limits` on the kernel and everything it starts: resident memory, CPU time and scratch
disk are watched from outside by a thread that kills the kernel and records why, and resource
limits set before the kernel starts cap its address space (so one huge allocation fails at
once), file size and CPU time as a backstop. Output and wall time are limited where nbgrader
receives them (``helpers.infra.grading.execute``).

Where no sandbox can be made (not Linux, no ``bwrap``, or user namespaces disabled, as in many
containers), :func:`sandbox_problem` says why, and grading refuses to run unless the instructor
explicitly chooses ``--unsafe`` (``COURSE_GRADING_UNSAFE=1`` for nbgrader's own commands).
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from jupyter_client.manager import AsyncKernelManager

GIB = 1024**3
MB = 10**6
SANDBOX_UID = 65534  # "nobody" inside the sandbox's user namespace
POLL_SECONDS = 0.1  # how often the watchdog measures memory and CPU time
DISK_POLL_SECONDS = 2.0  # scratch disk use is measured less often (it walks the folder)
DISK_WALK_ENTRIES = 20_000  # a scratch folder with more entries than this counts as over its disk limit
UNSAFE_VARIABLE = "COURSE_GRADING_UNSAFE"

# Why a kernel was stopped; the grader reports these as the status of the submission.
MEMORY_LIMIT = "memory limit"
CPU_LIMIT = "cpu limit"
DISK_LIMIT = "disk limit"
PROCESS_LIMIT = "process limit"
OUTPUT_LIMIT = "output limit"
TIMEOUT = "timeout"
KERNEL_DIED = "kernel died"

# Variables of the grader's environment a sandboxed kernel may see (everything else is cleared).
FORWARDED_VARIABLES = ("NBGRADER_EXECUTION", "COURSE_PROFILE", "COURSE_FRESH", "MPLBACKEND", "PYTHONHASHSEED",
                       "TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND", "OMP_NUM_THREADS",
                       "CUDA_VISIBLE_DEVICES")
FORWARDED_PREFIXES = ("COURSE_PARAM_",)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "mime.types", "passwd", "group",
             "nsswitch.conf")
SYSTEM_ROOTS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


# ---------------------------------------------------------------- limits (the one place they are set)


@dataclass(frozen=True)
class Limits:
    """What one autograded kernel may use. Defaults suit a 2-core, 24 GiB machine grading two
    notebooks at a time; each is overridden by the environment variable named in ``VARIABLES``."""

    memory_bytes: int = 6 * GIB  # resident memory of the kernel and its children
    cpu_seconds: int = 1800  # CPU time of the kernel (all threads) and its children
    output_bytes: int = 5 * MB  # output kept in the autograded notebook
    cell_timeout: int = 300  # wall time of one cell
    disk_bytes: int = 2 * GIB  # files in the scratch folder
    processes: int = 64  # processes in the sandbox (a fork bomb is stopped)

    VARIABLES = {
        "memory_bytes": ("COURSE_GRADING_MEMORY_GB", GIB),
        "cpu_seconds": ("COURSE_GRADING_CPU_SECONDS", 1),
        "output_bytes": ("COURSE_GRADING_OUTPUT_MB", MB),
        "cell_timeout": ("COURSE_CELL_TIMEOUT", 1),
        "disk_bytes": ("COURSE_GRADING_DISK_GB", GIB),
    }

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Limits:
        """The defaults, with any limit set in the environment (ValueError naming a bad value)."""
        environ = os.environ if environ is None else environ
        values = {}
        for field, (variable, unit) in cls.VARIABLES.items():
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                number = float(raw)
            except ValueError:
                number = float("nan")
            if not number > 0:
                raise ValueError(f"{variable} must be a positive number, got {raw!r}")
            values[field] = int(number * unit)
        return cls(**values)

    @property
    def address_space_bytes(self) -> int:
        """RLIMIT_AS of the kernel. TensorFlow reserves about 2.5 times the memory it touches
        (measured: 2.6 GB of address space for 1 GB resident), and any kernel reserves some
        fixed space (thread stacks, libraries), so three times the memory limit plus 2 GiB
        leaves room, while a single huge allocation still fails at once with MemoryError. The
        memory limit itself is enforced on resident memory, by the watchdog."""
        return 3 * self.memory_bytes + 2 * GIB

    @property
    def cpu_backstop_seconds(self) -> int:
        """RLIMIT_CPU, for the case the watchdog is not running: a little above its limit."""
        return self.cpu_seconds + 60


# ---------------------------------------------------------------- can a sandbox be made here?


def unsafe_requested() -> bool:
    """True when ``COURSE_GRADING_UNSAFE=1``: grade without a sandbox (the instructor's choice)."""
    return os.environ.get(UNSAFE_VARIABLE, "").strip() == "1"


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """None when sandboxed kernels can run here, else why not (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return f"this is {sys.platform}; the sandbox needs Linux namespaces"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed; install it with `sudo make grader-setup` (apt-get install bubblewrap)"
    probe = [bwrap, *_namespace_arguments(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`bwrap` could not be run: {error}"
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return (f"`bwrap` cannot create namespaces here ({detail[-1] if detail else f'exit {done.returncode}'}); "
                "containers often forbid it")
    return None


def refusal(problem: str) -> str:
    """The message grading stops with when there is no sandbox."""
    return (f"Refusing to grade: student code would run without a sandbox, because {problem}. "
            "Grade on a Linux machine with bubblewrap (`sudo make grader-setup`), in a container that allows "
            "user namespaces (for example `docker run --security-opt seccomp=unconfined`), or on the course's "
            "JupyterHub deployment. To run student code with your own permissions anyway, pass --unsafe to "
            f"`python -m helpers grade` (or set {UNSAFE_VARIABLE}=1 for nbgrader's commands).")


def _namespace_arguments() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox", "--cap-drop", "ALL", "--die-with-parent", "--new-session"]


# ---------------------------------------------------------------- what the sandbox sees


@dataclass(frozen=True)
class Layout:
    """The folders a sandboxed kernel sees read-only and the data locations it is given."""

    readonly: tuple[Path, ...]
    assets: Path | None  # COURSE_ASSETS inside: the mirror, or the instructor's cache laid out like one
    keras_home: Path | None
    course_cache: Path | None  # the instructor's cache, a read-only layer


def course_layout() -> Layout:
    """The allowlist for this course: Python, the venv, ``helpers``, assets, weights and caches."""
    import helpers
    from helpers.infra import assets

    python = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parents[1]}
    package = Path(helpers.__file__).resolve().parent
    mirror, keras, cache = assets.mirror_dir(), assets.keras_home(), assets.cache_dir()
    layers = [Path(p) for p in os.environ.get("COURSE_CACHE_READONLY", "").split(os.pathsep) if p.strip()]
    data = [path for path in (mirror, keras, cache, *layers) if path is not None]
    folders = [path.resolve() for path in (*python, package, *data) if path.is_dir()]
    return Layout(readonly=tuple(_outermost(folders)),
                  assets=mirror if mirror is not None else (cache if cache.is_dir() else None),
                  keras_home=keras if keras.is_dir() else None,
                  course_cache=cache if cache.is_dir() else None)


def _outermost(folders: list[Path]) -> list[Path]:
    """Each folder once, without folders already inside another one of the list."""
    unique = sorted(set(folders), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in unique:
        if not any(folder.is_relative_to(outer) for outer in kept):
            kept.append(folder)
    return kept


def bwrap_arguments(scratch: Path, layout: Layout, environment: dict[str, str]) -> list[str]:
    """The bubblewrap command line (without the command) for a kernel whose scratch folder is ``scratch``."""
    arguments = ["bwrap", *_namespace_arguments(), "--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_ROOTS:
        path = Path("/") / name
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            arguments += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for folder in layout.readonly:
        arguments += ["--ro-bind", str(folder), str(folder)]
    arguments += ["--bind", str(scratch), str(scratch), "--proc", "/proc", "--dev", "/dev",
                  "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", str(scratch), "--clearenv"]
    for name, value in sorted(environment.items()):
        arguments += ["--setenv", name, value]
    return arguments


def sandbox_environment(scratch: Path, layout: Layout, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed kernel: locations inside the sandbox plus the few
    settings of the grader's environment that change what a lesson computes."""
    environ = os.environ if environ is None else environ
    home = str(scratch)
    environment = {
        "HOME": home, "TMPDIR": home, "TMP": home, "TEMP": home, "PWD": home,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "COURSE_CACHE": str(scratch / "cache"),
    }
    if layout.assets is not None:
        environment["COURSE_ASSETS"] = str(layout.assets)
    environment["KERAS_HOME"] = str(scratch / "keras")  # its models/ links to the instructor's weights
    layers = [p for p in environ.get("COURSE_CACHE_READONLY", "").split(os.pathsep) if p.strip()]
    if layout.course_cache is not None:
        layers.insert(0, str(layout.course_cache))
    if layers:
        environment["COURSE_CACHE_READONLY"] = os.pathsep.join(layers)
    for name, value in environ.items():
        if name in FORWARDED_VARIABLES or name.startswith(FORWARDED_PREFIXES):
            environment[name] = value
    return environment


# ---------------------------------------------------------------- resource limits before the kernel starts

# Run by the sandbox's Python before it becomes the kernel (exec keeps the pid and the limits).
_SET_LIMITS = (
    "import os, resource, sys\n"
    "for name, value in zip(('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_CORE'), sys.argv[1:5]):\n"
    "    resource.setrlimit(getattr(resource, name), (int(value), int(value)))\n"
    "os.execv(sys.argv[5], sys.argv[5:])\n"
)


def limited_command(command: list[str], limits: Limits) -> list[str]:
    """``command`` started with the resource limits of ``limits`` (a core file is never written)."""
    values = [limits.address_space_bytes, limits.cpu_backstop_seconds, limits.disk_bytes, 0]
    return [sys.executable, "-I", "-S", "-c", _SET_LIMITS, *map(str, values), *command]


# ---------------------------------------------------------------- kernel managers


def _descendants(pid: int) -> list[int]:
    """Every process started under ``pid`` (through /proc/<pid>/task/<tid>/children: no scan of
    the whole process table, so the watchdog stays cheap on a busy machine)."""
    found, pending = [], [pid]
    while pending:
        parent = pending.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{parent}/task/{thread}/children", encoding="ascii") as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            found += children
            pending += children
    return found


def _folder_bytes(folder: Path, limit: int) -> int:
    """Bytes in ``folder``, counted until ``limit`` is passed (or DISK_WALK_ENTRIES entries seen)."""
    total, entries, pending = 0, 0, [str(folder)]
    while pending and total <= limit:
        try:
            scanner = os.scandir(pending.pop())
        except OSError:
            continue
        with scanner:
            for entry in scanner:
                entries += 1
                if entries > DISK_WALK_ENTRIES:
                    return limit + 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
    return total


def remove_tree(folder: Path) -> None:
    """Delete ``folder`` even when the code that wrote it removed its own permissions."""
    def make_writable_and_retry(function, path, _error):
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
            function(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=make_writable_and_retry)


class LimitedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is limited (:class:`Limits`) and can be stopped with a reason.

    ``stop_reason`` tells why the kernel was stopped (``MEMORY_LIMIT``, ``CPU_LIMIT``, ...), or is
    None when it ended by itself. Without a sandbox this is what ``--unsafe`` grading uses.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = Limits.from_environment()
        self.stop_reason: str | None = None
        self.stop_detail = ""
        self.peak_memory_bytes = 0.0  # the most the watchdog saw the kernel use (benchmarks read them)
        self.cpu_seconds_used = 0.0
        self._watchdog: threading.Thread | None = None
        self._watching = threading.Event()

    # -- starting
    async def _async_pre_start_kernel(self, **kw):
        self.stop_reason, self.stop_detail = None, ""
        command, kw = await super()._async_pre_start_kernel(**kw)
        kw["stdin"] = kw["stdout"] = subprocess.DEVNULL
        kw["stderr"] = self._stderr_target()
        return self._wrap(limited_command(command, self.limits), kw), kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            if hasattr(kw["stderr"], "close"):  # the kernel has its own copy now
                kw["stderr"].close()

    _launch_kernel = _async_launch_kernel

    def _wrap(self, command: list[str], kw: dict) -> list[str]:
        return command

    def _stderr_target(self):
        return subprocess.DEVNULL

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        self._watching.set()
        self._watchdog = threading.Thread(target=self._watch, name="kernel-watchdog", daemon=True)
        self._watchdog.start()

    # -- the watchdog
    def _kernel_root(self) -> int | None:
        provisioner = self.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None and provisioner.has_process else None

    def _scratch(self) -> Path | None:
        return None

    def _watch(self) -> None:
        next_disk_check = time.monotonic() + DISK_POLL_SECONDS
        while self._watching.is_set():
            root = self._kernel_root()
            if root is None:
                return
            processes = [root, *_descendants(root)]
            memory = cpu = 0.0
            for pid in processes:
                try:
                    process = psutil.Process(pid)
                    memory += process.memory_info().rss
                    times = process.cpu_times()
                    cpu += times.user + times.system
                except psutil.Error:
                    continue
            self.peak_memory_bytes, self.cpu_seconds_used = max(self.peak_memory_bytes, memory), cpu
            if memory > self.limits.memory_bytes:
                self.stop(MEMORY_LIMIT, f"{memory / GIB:.1f} GiB resident, limit {self.limits.memory_bytes / GIB:g} GiB")
            elif cpu > self.limits.cpu_seconds:
                self.stop(CPU_LIMIT, f"{cpu:.0f} s of CPU time, limit {self.limits.cpu_seconds} s")
            elif len(processes) > self.limits.processes:
                self.stop(PROCESS_LIMIT, f"{len(processes)} processes, limit {self.limits.processes}")
            elif self._scratch() is not None and time.monotonic() > next_disk_check:
                next_disk_check = time.monotonic() + DISK_POLL_SECONDS
                used = _folder_bytes(self._scratch(), self.limits.disk_bytes)
                if used > self.limits.disk_bytes:
                    self.stop(DISK_LIMIT, f"more than {self.limits.disk_bytes / GIB:g} GiB (or "
                                          f"{DISK_WALK_ENTRIES} files) written to the scratch folder")
            time.sleep(POLL_SECONDS)

    # -- stopping
    def stop(self, reason: str, detail: str = "") -> None:
        """Kill the kernel and everything it started, remembering why (the first reason wins)."""
        if self.stop_reason is None:
            self.stop_reason, self.stop_detail = reason, detail
            self.log.warning("Stopping the kernel: %s (%s)", reason, detail)
        self._watching.clear()
        root = self._kernel_root()
        if root is None:
            return
        for pid in [root, *_descendants(root)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def kernel_pid(self) -> int | None:
        """The process that runs the kernel's code."""
        return self._kernel_root()

    def interrupt_now(self) -> None:
        """SIGINT to the kernel process itself (not its process group, which may hold the sandbox)."""
        pid = self.kernel_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    async def _async_interrupt_kernel(self) -> None:
        self.interrupt_now()

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        self._watching.clear()
        await super()._async_cleanup_resources(restart=restart)

    cleanup_resources = _async_cleanup_resources


class SandboxKernelManager(LimitedKernelManager):
    """A limited kernel inside bubblewrap, with its own scratch folder (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        problem = sandbox_problem()
        if problem is not None:
            raise RuntimeError(refusal(problem))
        self.scratch = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        os.chmod(self.scratch, 0o700)
        runtime = self.scratch / ".kernel"
        runtime.mkdir()
        self.transport = "ipc"  # the grader's loopback does not exist inside the network namespace
        self.ip = str(runtime / "kernel")
        self.connection_file = str(runtime / "connection.json")
        self.layout = course_layout()
        self.last_stderr = ""
        self._seed_scratch()

    def _seed_scratch(self) -> None:
        """Start the scratch folder with what the kernel must find there: the instructor's record of
        trusted downloads (so weights downloaded on the instructor's machine are accepted), and a
        writable ``KERAS_HOME`` whose ``models/`` links to the instructor's weights (Keras refuses a
        read-only one)."""
        from helpers.infra import assets

        (self.scratch / "cache").mkdir()
        trusted = assets._trusted_downloads_file()
        if trusted.is_file():
            shutil.copyfile(trusted, self.scratch / "cache" / trusted.name)
        models = self.scratch / "keras" / "models"
        models.mkdir(parents=True)
        self._warm_keras_home()
        instructor_models = self.layout.keras_home.resolve() / "models" if self.layout.keras_home else None
        if instructor_models is not None and instructor_models.is_dir():
            for weights in instructor_models.iterdir():
                (models / weights.name).symlink_to(weights)

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def _warm_keras_home() -> None:
        """Put the weights Keras loads into the instructor's ``$KERAS_HOME/models`` (once per process),
        because the sandbox sees that folder read-only and could not copy them there itself."""
        from helpers.infra import assets

        for name, asset in assets.ASSETS.items():
            if asset.in_keras_cache:
                try:
                    assets.fetch(name, download=False)
                except (assets.AssetError, OSError):
                    pass  # missing here: the lesson that needs it says so

    def _scratch(self) -> Path | None:
        return self.scratch

    def _stderr_target(self):
        return open(self.scratch / ".kernel" / "stderr.log", "wb")  # noqa: SIM115 - the kernel owns it

    def _wrap(self, command: list[str], kw: dict) -> list[str]:
        kw.pop("cwd", None)
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # bwrap's own; the kernel's is below
        return [*bwrap_arguments(self.scratch, self.layout, sandbox_environment(self.scratch, self.layout)), *command]

    def kernel_pid(self) -> int | None:
        """The kernel runs two levels below bwrap (bwrap, its init as PID 1, the kernel)."""
        root = self._kernel_root()
        if root is None:
            return None
        inside = [pid for pid in _descendants(root) if _executable(pid) != "bwrap"]
        return min(inside, key=_start_time, default=None)

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines the kernel wrote to its standard error (startup failures end up there)."""
        try:
            text = (self.scratch / ".kernel" / "stderr.log").read_bytes()[-4000:].decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self.last_stderr = self.stderr_tail()
            remove_tree(self.scratch)

    cleanup_resources = _async_cleanup_resources


def _executable(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return ""


def _start_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return float("inf")


def main() -> int:
    """``python -m helpers.infra.sandbox``: say whether grading can be sandboxed here (exit 0) or why not (1)."""
    problem = sandbox_problem()
    limits = Limits.from_environment()
    print(f"grading sandbox: {'ready (bubblewrap)' if problem is None else 'NOT AVAILABLE: ' + problem}")
    print(f"limits per kernel: {limits.memory_bytes / GIB:g} GiB memory, {limits.cpu_seconds} s CPU, "
          f"{limits.output_bytes / MB:g} MB output, {limits.cell_timeout} s per cell, {limits.disk_bytes / GIB:g} GiB disk")
    return 0 if problem is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
