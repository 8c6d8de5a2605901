"""The class deployments' configuration, checked without starting anything (fast).

deploy/jupyterhub_config.py is loaded as JupyterHub loads it, over a made-up deployment
folder; deploy/z2jh/values.yaml is loaded as Helm values and its Python run against a
stand-in spawner; both must give each role the configuration the course relies on.
The running class is tested in a real browser by tests/test_browser_hub.py.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from helpers.infra import hub

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
CHART_JUPYTERHUB = "5.5"  # the hub of Zero to JupyterHub chart 4.4 (deploy/z2jh/values.yaml)


def spawner(name: str) -> SimpleNamespace:
    """What a pre-spawn hook sees of a spawner: the user's name and the environment so far."""
    return SimpleNamespace(user=SimpleNamespace(name=name), environment={"KEPT": "1"})


def nbgrader_settings(source: str, path: Path = Path("/etc/jupyter/nbgrader_config.py")) -> Config:
    """The configuration an nbgrader_config.py's code sets, as if the file were at ``path``."""
    config = Config()
    exec(compile(source, str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})  # noqa: S102
    return config


# ---------------------------------------------------------------- one machine


@pytest.fixture()
def deployment(tmp_path) -> hub.ClassDeployment:
    """A deployment folder as `setup` writes it (class.json, the password), nothing installed."""
    deployment = hub.ClassDeployment(root=tmp_path / "class", environment=tmp_path / "env", instructor="tlc-x-teacher",
                                     students=("tlc-x-ann", "tlc-x-ben"), port=18001, hub_port=18002,
                                     proxy_api_port=18003, assets="/mirror", profile="quick")
    deployment.hub_state.mkdir(parents=True)
    (deployment.hub_state / "password").write_text("a-test-password\n")
    hub.write_configuration(deployment)
    return deployment


def test_local_hub_config_serves_the_class_from_the_course_environment(deployment):
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(deployment.root)).load_config()
    assert config.JupyterHub.bind_url == "http://127.0.0.1:18001"
    assert config.JupyterHub.hub_bind_url == "http://127.0.0.1:18002"
    assert config.Authenticator.allowed_users == {"tlc-x-teacher", "tlc-x-ann", "tlc-x-ben"}
    assert config.SharedPasswordAuthenticator.user_password == "a-test-password"
    assert config.Spawner.cmd == [str(deployment.environment / "bin" / "jupyterhub-singleuser")]
    assert config.Spawner.disable_user_config is True
    assert config.ConfigurableHTTPProxy.command[0].endswith("node_modules/.bin/configurable-http-proxy")
    assert config.JupyterHub.db_url.endswith(str(deployment.hub_state / "jupyterhub.sqlite"))


def test_local_hub_gives_each_role_its_configuration(deployment):
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(deployment.root)).load_config()
    teacher, student = spawner("tlc-x-teacher"), spawner("tlc-x-ann")
    config.Spawner.pre_spawn_hook(teacher)
    config.Spawner.pre_spawn_hook(student)
    assert teacher.environment["JUPYTER_CONFIG_PATH"].split(":") == [
        str(deployment.config_dir / "instructor"), str(deployment.config_dir / "common")]
    assert student.environment["JUPYTER_CONFIG_PATH"].split(":")[0] == str(deployment.config_dir / "student")
    for server in (teacher, student):
        assert server.environment["PATH"].startswith(f"{deployment.environment / 'bin'}:")
        assert (server.environment["COURSE_ASSETS"], server.environment["COURSE_PROFILE"]) == ("/mirror", "quick")
        assert server.environment["KEPT"] == "1"


def test_students_get_the_assignment_list_but_not_formgrader(deployment):
    student = deployment.config_dir / "student"
    disabled = json.loads((student / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert disabled == {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
                        "@jupyter/nbgrader:create-assignment": True}
    server = json.loads((student / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert server == {"nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False}
    assert not (deployment.config_dir / "instructor" / "labconfig").exists()  # the instructor keeps them all


def test_everyone_shares_the_exchange_next_to_the_configuration(deployment):
    config = PyFileConfigLoader("nbgrader_config.py", path=str(deployment.config_dir / "common")).load_config()
    assert config.Exchange.root == str(deployment.exchange)
    assert config.CourseDirectory.course_id == deployment.course_id == "transfer-learning"
    instructor = PyFileConfigLoader("nbgrader_config.py", path=str(deployment.config_dir / "instructor")).load_config()
    assert instructor.CourseDirectory.root.endswith("/course")


def test_roles_are_only_for_the_class(deployment):
    assert deployment.role("tlc-x-teacher") == "instructor" and deployment.role("tlc-x-ben") == "student"
    with pytest.raises(ValueError, match="tlc-x-teacher"):
        deployment.role("root")
    with pytest.raises(ValueError, match="student"):
        deployment.server_environment("admin")


# ---------------------------------------------------------------- Kubernetes (Zero to JupyterHub)


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "z2jh" / "values.yaml").read_text())


def test_helm_values_run_the_course_image(values):
    singleuser = values["singleuser"]
    assert singleuser["image"]["name"].endswith("/transfer-learning-course")
    assert singleuser["uid"] == 0 and singleuser["cmd"] == "jupyterhub-singleuser"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"pip install .*-r /tmp/course/requirements.txt -r /tmp/course/requirements-hub.txt", dockerfile)
    assert 'ENTRYPOINT ["/usr/local/bin/start-course-user"]' in dockerfile
    for role in ("student", "instructor"):
        assert f"COPY deploy/jupyter/{role} /etc/jupyter-course/{role}" in dockerfile
    pinned = re.search(r"^jupyterhub==(\S+)", (DEPLOY / "requirements-hub.txt").read_text(), re.MULTILINE).group(1)
    assert pinned.startswith(CHART_JUPYTERHUB + "."), f"the image's JupyterHub {pinned} must match the chart's hub"


def test_helm_values_share_the_exchange_and_the_asset_mirror(values):
    singleuser = values["singleuser"]
    mounts = {mount["name"]: mount for mount in singleuser["storage"]["extraVolumeMounts"]}
    volumes = {volume["name"]: volume for volume in singleuser["storage"]["extraVolumes"]}
    assert set(mounts) == set(volumes) == {"course-exchange", "course-assets"}
    assert mounts["course-assets"]["readOnly"] is True
    assert singleuser["extraEnv"]["COURSE_ASSETS"] == mounts["course-assets"]["mountPath"]
    settings = nbgrader_settings(singleuser["extraFiles"]["nbgrader-config"]["stringData"])
    assert singleuser["extraFiles"]["nbgrader-config"]["mountPath"] == "/etc/jupyter/nbgrader_config.py"
    assert settings.Exchange.root == mounts["course-exchange"]["mountPath"]
    common = DEPLOY / "jupyter" / "common" / "nbgrader_config.py"
    local = nbgrader_settings(common.read_text(), common)
    assert settings.CourseDirectory.course_id == local.CourseDirectory.course_id
    assert settings.Execute.timeout >= 300  # the course's own per-cell limit


def test_helm_values_give_each_person_an_account_and_a_role(values):
    course = values["custom"]["course"]
    uids = course["uids"]
    assert course["instructor"] in uids and len(set(uids.values())) == len(uids)
    config = SimpleNamespace(Authenticator=SimpleNamespace(), KubeSpawner=SimpleNamespace())
    script = values["hub"]["extraConfig"]["course.py"]
    exec(compile(script, "course.py", "exec"),  # noqa: S102  (as the chart's jupyterhub_config.py does)
         {"c": config, "get_config": lambda key: values["custom"]["course"] if key == "custom.course" else None})
    assert config.Authenticator.allowed_users == set(uids)
    student_name = next(name for name in uids if name != course["instructor"])
    teacher, student = spawner(course["instructor"]), spawner(student_name)
    config.KubeSpawner.pre_spawn_hook(teacher)
    config.KubeSpawner.pre_spawn_hook(student)
    assert teacher.environment["JUPYTER_CONFIG_PATH"] == "/etc/jupyter-course/instructor"
    assert student.environment["JUPYTER_CONFIG_PATH"] == "/etc/jupyter-course/student"
    assert (student.environment["NB_USER"], student.environment["NB_UID"]) == (student_name, str(uids[student_name]))
    assert student.environment["KEPT"] == "1"
