"""A class on one machine: JupyterHub, nbgrader's exchange and real accounts (``python -m helpers hub``).

``setup`` builds a deployment (as root; every step can be run again), ``start`` runs its hub,
``remove`` deletes it. A deployment is a folder, system accounts and a course environment:

    <root>/class.json            who is in the class, the ports, each server's environment (written here)
    <root>/jupyterhub_config.py  deploy/jupyterhub_config.py, which reads class.json
    <root>/hub/                  JupyterHub's database and cookie secret, the test password (root only)
    <root>/jupyter/              deploy/jupyter/: the Jupyter configuration servers read through
                                 JUPYTER_CONFIG_PATH: common/ (course id, exchange), student/, instructor/
    <root>/exchange/             nbgrader's exchange, shared by every account
    ~<instructor>/course/        the instructor's copy of the course directory (private to them)
    <environment>/               the course environment: requirements.txt, JupyterHub and the helpers
                                 package in a root-owned virtual environment, and the proxy from npm
                                 (proxy/); shared by deployments, rebuilt only when its sources change

Single-user servers and kernels run as the users' own accounts, so Unix permissions keep
students out of each other's files and out of the instructor's course directory (which holds
the solutions and hidden tests). Students never see this repository: the environment holds a
copy of ``helpers``, the instructor a copy of the course.
"""
from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# The environment's interpreter must be readable by every account: the system's Python, not
# one under /root (pyenv) or a developer's home.
SYSTEM_PYTHON = Path("/usr/bin/python3")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# What the instructor's copy of the course leaves out: tools, caches and grading output.
NOT_COURSE = (".git", ".venv", ".cache", "build", "gradebook", "node_modules", "__pycache__",
              ".ipynb_checkpoints", ".pytest_cache", "*.egg-info", "grades.csv")
ENVIRONMENT_STAMP = "course-environment.json"  # digests of what the environment was built from


@dataclass(frozen=True)
class ClassDeployment:
    """Where a class lives on this machine and who is in it. Paths, account names and ports
    are global to the machine, hence the unusual defaults."""

    root: Path = Path("/srv/tlcourse")
    environment: Path = Path("/srv/tlcourse-env")
    instructor: str = "tlc-instructor"
    students: tuple[str, ...] = ("tlc-alice", "tlc-bob", "tlc-carol")
    port: int = 18765  # the proxy: the address people open
    hub_port: int = 18766
    proxy_api_port: int = 18767
    # COURSE_ASSETS (the read-only mirror) and COURSE_PROFILE of every server: by default
    # those of the process that sets the class up ("" leaves them unset).
    assets: str = field(default_factory=lambda: os.environ.get("COURSE_ASSETS", ""))
    profile: str = field(default_factory=lambda: os.environ.get("COURSE_PROFILE", ""))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.instructor, *self.students)

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def hub_state(self) -> Path:
        return self.root / "hub"

    @property
    def config_dir(self) -> Path:
        return self.root / "jupyter"

    @property
    def course_dir(self) -> Path:
        return home(self.instructor) / "course"

    @property
    def course_id(self) -> str:
        return course_id()

    def role(self, account: str) -> str:
        if account not in self.accounts:
            raise ValueError(f"expected an account of this class ({', '.join(self.accounts)}), got {account!r}")
        return "instructor" if account == self.instructor else "student"

    def server_environment(self, role: str) -> dict[str, str]:
        """What a server of this role (and its kernels, terminals and nbgrader) runs with."""
        if role not in ("student", "instructor"):
            raise ValueError(f"expected role 'student' or 'instructor', got {role!r}")
        environment = {
            "PATH": f"{self.environment / 'bin'}:{SYSTEM_PATH}",
            "JUPYTER_CONFIG_PATH": os.pathsep.join([str(self.config_dir / role), str(self.config_dir / "common")]),
            "LANG": "C.UTF-8",
        }
        if self.assets:
            environment["COURSE_ASSETS"] = self.assets
        if self.profile:
            environment["COURSE_PROFILE"] = self.profile
        return environment


def home(account: str) -> Path:
    """The account's home directory (``/home/<account>`` before the account exists)."""
    try:
        return Path(pwd.getpwnam(account).pw_dir)
    except KeyError:
        return Path("/home") / account


def course_id() -> str:
    """The course id every server uses, read from deploy/jupyter/common/nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(DEPLOY / "jupyter" / "common")).load_config()
    return str(config.CourseDirectory.course_id)


def password(deployment: ClassDeployment) -> str:
    """The shared test password of the deployment (written by ``setup``)."""
    return (deployment.hub_state / "password").read_text(encoding="utf-8").strip()


# ---------------------------------------------------------------- set-up


def setup(deployment: ClassDeployment, lessons: list[str] | None = None) -> None:
    """Build or refresh the deployment. Safe to run again: the environment is rebuilt only when
    requirements, helpers or the proxy lock change; configuration is refreshed from deploy/;
    accounts, the exchange, the hub's database and the instructor's course are kept.

    The first set-up copies the course to the instructor, puts the students in its gradebook and
    releases ``lessons`` (default: every lesson) to the exchange.
    """
    missing = missing_prerequisites()
    if missing:
        raise OSError(f"cannot set up the class: missing {'; '.join(missing)}")
    previous_umask = os.umask(0o022)  # the environment and configuration must be readable by all
    try:
        ensure_environment(deployment.environment)
        for account in deployment.accounts:
            _ensure_account(account)
        write_configuration(deployment)
        _ensure_exchange(deployment)
        _check_assets_readable(deployment)
        if not deployment.course_dir.exists():
            _copy_course(deployment)
            prepare_as_instructor(deployment, lessons)
    finally:
        os.umask(previous_umask)


def missing_prerequisites() -> list[str]:
    """What this machine lacks to set a class up (empty when nothing): root, the system's Python
    with venv (the course environment), npm (the proxy)."""
    missing = [] if os.geteuid() == 0 else ["root (it creates system accounts)"]
    venv = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], capture_output=True, check=False) \
        if SYSTEM_PYTHON.exists() else None
    if venv is None or venv.returncode != 0:
        missing.append(f"{SYSTEM_PYTHON} with venv (Debian: apt-get install python3-venv)")
    if shutil.which("npm") is None:
        missing.append("npm, for configurable-http-proxy (Debian: apt-get install npm)")
    return missing


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("the class server creates system accounts and runs their servers: run it as root "
                              f"(e.g. sudo {sys.executable} -m helpers hub)")


def _digest(*paths: Path) -> str:
    """SHA-256 over files and folders (relative names and contents, caches left out)."""
    sha = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            sha.update(file.relative_to(path.parent).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return sha.hexdigest()


def ensure_environment(environment: Path) -> None:
    """The course environment: a root-owned virtual environment of the system's Python with
    requirements.txt, deploy/requirements-hub.txt and a copy of helpers (not an editable install:
    users must not need to read this repository), and the proxy installed by ``npm ci``."""
    wanted = {
        "requirements": _digest(REPO / "requirements.txt", DEPLOY / "requirements-hub.txt"),
        "helpers": _digest(REPO / "helpers", REPO / "pyproject.toml"),
        "proxy": _digest(DEPLOY / "package.json", DEPLOY / "package-lock.json"),
    }
    stamp = environment / ENVIRONMENT_STAMP
    python = environment / "bin" / "python"
    if not python.exists():
        _run([str(SYSTEM_PYTHON), "-m", "venv", str(environment)])
        _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        stamp.unlink(missing_ok=True)
    built = json.loads(stamp.read_text(encoding="utf-8")) if stamp.exists() else {}

    def done(step: str) -> None:
        built[step] = wanted[step]
        stamp.write_text(json.dumps(built, indent=1), encoding="utf-8")

    if built.get("requirements") != wanted["requirements"]:
        _run([str(python), "-m", "pip", "install", "--quiet", "-r", str(REPO / "requirements.txt"),
              "-r", str(DEPLOY / "requirements-hub.txt")])
        done("requirements")
    if built.get("helpers") != wanted["helpers"]:
        with tempfile.TemporaryDirectory() as source:  # build outside the repository (no build/ left in it)
            shutil.copytree(REPO / "helpers", Path(source) / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
            for name in ("pyproject.toml", "README.md"):
                shutil.copy(REPO / name, source)
            _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", source])
        done("helpers")
    # JupyterLab's defaults for everyone on the server: no prompt to fetch news from the internet.
    settings = environment / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "lab-overrides.json", settings / "overrides.json")
    if built.get("proxy") != wanted["proxy"]:
        proxy = environment / "proxy"
        proxy.mkdir(exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(DEPLOY / name, proxy)
        _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=proxy)
        done("proxy")


def _ensure_account(account: str) -> None:
    """A system account with a private home (created once; an existing one is kept)."""
    try:
        pwd.getpwnam(account)
    except KeyError:
        _run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
              "--comment", "transfer-learning course", account])
    os.chmod(home(account), 0o700)


def write_configuration(deployment: ClassDeployment) -> None:
    """class.json, the hub's configuration, the Jupyter configuration folders and the password."""
    deployment.root.mkdir(parents=True, exist_ok=True)
    os.chmod(deployment.root, 0o755)
    deployment.hub_state.mkdir(exist_ok=True)
    os.chmod(deployment.hub_state, 0o700)
    secret = deployment.hub_state / "password"
    if not secret.exists():
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
    shutil.copy(DEPLOY / "jupyterhub_config.py", deployment.root / "jupyterhub_config.py")
    if deployment.config_dir.exists():
        shutil.rmtree(deployment.config_dir)
    shutil.copytree(DEPLOY / "jupyter", deployment.config_dir, ignore=shutil.ignore_patterns("__pycache__"))
    settings = {
        "instructor": deployment.instructor,
        "students": list(deployment.students),
        "port": deployment.port,
        "hub_port": deployment.hub_port,
        "proxy_api_port": deployment.proxy_api_port,
        "environment": str(deployment.environment),
        "proxy": str(deployment.environment / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
        "server_environment": {role: deployment.server_environment(role) for role in ("student", "instructor")},
    }
    (deployment.root / "class.json").write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")


def _ensure_exchange(deployment: ClassDeployment) -> None:
    """The exchange: writable by everyone as nbgrader requires (sticky, like /tmp), with the
    course's folder created for the instructor so that no student can claim it first."""
    deployment.exchange.mkdir(exist_ok=True)
    os.chmod(deployment.exchange, 0o1777)
    course = deployment.exchange / deployment.course_id
    course.mkdir(exist_ok=True)
    account = pwd.getpwnam(deployment.instructor)
    os.chown(course, account.pw_uid, account.pw_gid)
    os.chmod(course, 0o755)


def _check_assets_readable(deployment: ClassDeployment) -> None:
    """Every account's kernels read COURSE_ASSETS: a mirror under a private home would fail them all."""
    if not deployment.assets:
        return
    probe = "import os, sys; sys.exit(0 if os.access(sys.argv[1], os.R_OK | os.X_OK) else 1)"
    for account in deployment.accounts:
        done = run_as(deployment, account, [str(SYSTEM_PYTHON), "-c", probe, deployment.assets], check=False)
        if done.returncode != 0:
            raise PermissionError(f"the account {account} cannot read the asset mirror {deployment.assets}: make it "
                                  "(and every folder above it) readable by all, or set COURSE_ASSETS to a copy that is")


def _copy_course(deployment: ClassDeployment) -> None:
    """The instructor's own copy of the course directory (solutions, lessons, nbgrader_config.py)."""
    shutil.copytree(REPO, deployment.course_dir, ignore=shutil.ignore_patterns(*NOT_COURSE), symlinks=True)
    account = pwd.getpwnam(deployment.instructor)
    for folder, folders, files in os.walk(deployment.course_dir):
        for name in [folder, *(os.path.join(folder, entry) for entry in folders + files)]:
            os.lchown(name, account.pw_uid, account.pw_gid)


def prepare_as_instructor(deployment: ClassDeployment, lessons: list[str] | None = None) -> None:
    """As the instructor, in the course environment: the students into the gradebook, the
    lessons generated and released to the exchange (see :func:`prepare_course`)."""
    script = ("import json, sys; from pathlib import Path; from helpers.infra.hub import prepare_course; "
              "prepare_course(Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]))")
    run_as(deployment, deployment.instructor,
           [str(deployment.environment / "bin" / "python"), "-c", script, str(deployment.course_dir),
            json.dumps(list(deployment.students)), json.dumps(lessons)],
           cwd=deployment.course_dir)


def prepare_course(course: Path, students: list[str], lessons: list[str] | None) -> None:
    """(Runs as the instructor.) Add ``students`` to the gradebook, regenerate ``lessons`` (all
    by default) and release them, with nbgrader configured as in the instructor's server."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from helpers.infra.grading import lesson_names

    app = NbGrader()
    app.load_config_file()  # JUPYTER_CONFIG_PATH: the course id, the exchange, the course's root
    config = app.config
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.ExchangeReleaseAssignment.force = True  # releasing again replaces the released copy
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    with api.gradebook as gradebook:
        for student in students:
            gradebook.update_or_create_student(student, first_name=student.rsplit("-", 1)[-1].title(),
                                               last_name="Student")
    for lesson in lessons or lesson_names(course):
        for step, result in (("generate_assignment", api.generate_assignment(lesson, force=True, create=True)),
                             ("release_assignment", api.release_assignment(lesson))):
            if not result.get("success"):
                raise RuntimeError(f"nbgrader {step} {lesson} failed:\n{result.get('log', '')}{result.get('error', '')}")


def run_as(deployment: ClassDeployment, account: str, command: list[str], cwd: Path | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """Run a command as one of the class's accounts, with the environment its server has."""
    entry = pwd.getpwnam(account)
    environment = {**deployment.server_environment(deployment.role(account)),
                   "HOME": entry.pw_dir, "USER": account, "LOGNAME": account, "SHELL": entry.pw_shell}
    result = subprocess.run(command, cwd=cwd or entry.pw_dir, env=environment, user=entry.pw_uid,
                            group=entry.pw_gid, extra_groups=os.getgrouplist(account, entry.pw_gid),
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... as {account} failed (exit {result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def _run(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {result.returncode}):\n"
                           f"{result.stdout[-3000:]}{result.stderr[-3000:]}")


# ---------------------------------------------------------------- running


def start(deployment: ClassDeployment, log: Path, timeout: float = 120) -> subprocess.Popen:
    """Start the hub (set up first) in the background, its output and every server's in ``log``;
    return once it answers on its public address."""
    _require_root()
    for port in (deployment.port, deployment.hub_port, deployment.proxy_api_port):
        if _listening(port):
            raise OSError(f"port {port} is already in use (is this class's hub already running?); "
                          f"stop it, or choose other ports in ClassDeployment")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [str(deployment.environment / "bin" / "jupyterhub"), "-f", str(deployment.root / "jupyterhub_config.py")],
            cwd=deployment.hub_state, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            env={"PATH": f"{deployment.environment / 'bin'}:{SYSTEM_PATH}", "LANG": "C.UTF-8", "HOME": "/root"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {process.returncode}; its log ({log}) ends with:\n"
                               + log.read_text(encoding="utf-8", errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(f"{deployment.url}/hub/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    stop(process)
    raise TimeoutError(f"JupyterHub did not answer at {deployment.url} within {timeout:.0f} s; see {log}")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen, timeout: float = 60) -> None:
    """Stop the hub: it stops every user's server and the proxy on its way out."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(deployment: ClassDeployment, log: Path) -> int:
    """``python -m helpers hub``: set up, start, print how to log in, run until Ctrl+C."""
    setup(deployment)
    process = start(deployment, log)
    print(f"The class is at {deployment.url} (JupyterHub log: {log})\n"
          f"  instructor: {deployment.instructor}   students: {', '.join(deployment.students)}\n"
          f"  test password for every account: {password(deployment)}\n"
          "Local use only: see deploy/jupyterhub_config.py for what a real class changes. Ctrl+C stops it.")
    def interrupted(signum, frame):  # Ctrl+C, or `kill` from a service manager
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop(process)
        return 0


# ---------------------------------------------------------------- removal


def account_processes(deployment: ClassDeployment) -> list[int]:
    """Process ids running as one of the class's accounts."""
    uids = set()
    for account in deployment.accounts:
        try:
            uids.add(pwd.getpwnam(account).pw_uid)
        except KeyError:
            continue
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:  # the process ended meanwhile
            continue
        real_uid = next((int(line.split()[1]) for line in lines if line.startswith("Uid:")), None)
        if real_uid in uids:
            pids.append(int(status.parent.name))
    return pids


def remove(deployment: ClassDeployment) -> None:
    """Delete the deployment: its accounts with their homes (the instructor's course too), its
    folder (exchange, hub database). The course environment stays for the next deployment.
    Stop the hub first; servers still running as the class's accounts are ended by their ids."""
    _require_root()
    for pid in account_processes(deployment):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while account_processes(deployment) and time.monotonic() < deadline:  # userdel refuses a busy account
        time.sleep(0.2)
    for account in deployment.accounts:
        try:
            pwd.getpwnam(account)
        except KeyError:
            continue
        _run(["userdel", "--remove", account])
    shutil.rmtree(deployment.root, ignore_errors=True)
