"""JupyterHub for one class on one machine: the course environment, nbgrader's exchange, real accounts.

`python -m helpers hub setup` copies this file into the deployment folder (default
/srv/tlcourse) next to class.json, which it writes: who is in the class, the ports, the
course environment and what each server's environment holds. `python -m helpers hub`
starts JupyterHub with it, as root (single-user servers run as the users' own accounts).

LOCAL USE ONLY, as configured here:
- Authentication is JupyterHub's SharedPasswordAuthenticator, a testing authenticator:
  anyone with the one password (<deployment>/hub/password, readable by root only) can
  log in as any student or as the instructor.
- The hub listens on 127.0.0.1 over plain HTTP.

For a real class, change:
- the authenticator: PAMAuthenticator (the machine's own passwords, the default of
  JupyterHub), or your institution's OAuth/LDAP/LTI (oauthenticator, ldapauthenticator,
  ltiauthenticator), keeping `allowed_users` (or group-based access) to the class;
- the address: `bind_url = "https://<host>:443"` with `ssl_cert`/`ssl_key`, or keep
  127.0.0.1 behind a TLS-terminating reverse proxy (nginx, Caddy);
- per-user subdomains (`JupyterHub.subdomain_host`) if students must be protected from each
  other's pages (see JupyterHub's "Security Overview").
"""
import json
import os

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

DEPLOYMENT = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(DEPLOYMENT, "class.json"), encoding="utf-8") as handle:
    CLASS = json.load(handle)
HUB_STATE = os.path.join(DEPLOYMENT, "hub")

# ---------------------------------------------------------------- addresses
c.JupyterHub.bind_url = f"http://127.0.0.1:{CLASS['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{CLASS['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{CLASS['proxy_api_port']}"
# configurable-http-proxy from npm, pinned by deploy/package-lock.json (installed with `npm ci`).
c.ConfigurableHTTPProxy.command = [CLASS["proxy"]]
c.ConfigurableHTTPProxy.pid_file = os.path.join(HUB_STATE, "proxy.pid")

# ---------------------------------------------------------------- state (survives restarts)
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HUB_STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HUB_STATE, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(HUB_STATE, "jupyterhub.pid")

# ---------------------------------------------------------------- who may log in (TESTING ONLY)
c.JupyterHub.authenticator_class = "shared-password"
with open(os.path.join(HUB_STATE, "password"), encoding="utf-8") as handle:
    c.SharedPasswordAuthenticator.user_password = handle.read().strip()
c.Authenticator.allowed_users = {CLASS["instructor"], *CLASS["students"]}

# ---------------------------------------------------------------- single-user servers
# Each user's server is a local process running as that user's system account, with
# JupyterLab from the course environment (root-owned: users cannot change the server).
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(CLASS["environment"], "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.disable_user_config = True  # no ~/.jupyter config can re-enable or change extensions
# Starting JupyterLab with the nbgrader extensions takes a while on a busy machine.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120


def _server_environment(spawner):
    """The environment of a user's server (and so of their kernels and terminals): the course
    environment first on PATH, the course settings, and the Jupyter configuration of their role
    (students: assignment list and validate; the instructor: also formgrader and course list)."""
    role = "instructor" if spawner.user.name == CLASS["instructor"] else "student"
    spawner.environment = {**spawner.environment, **CLASS["server_environment"][role]}


c.Spawner.pre_spawn_hook = _server_environment
