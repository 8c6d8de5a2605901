#!/bin/bash
# Entry point of the course image (deploy/Dockerfile) on Kubernetes: run the user's server as that
# user's own Unix account, NB_USER with uid NB_UID (set per user by the hub, deploy/z2jh/values.yaml).
# nbgrader's shared exchange keeps students apart by Unix owner, as on a single machine, so every
# person needs their own uid. The container starts as root only to create the account; the server
# never runs as root.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    exec "$@"
fi
: "${NB_USER:?expected NB_USER (the JupyterHub user name) from the hub}"
: "${NB_UID:?expected NB_UID (the user's own uid) from the hub}"

home="/home/${NB_USER}"
if ! getent passwd "${NB_USER}" >/dev/null; then
    useradd --no-create-home --home-dir "${home}" --uid "${NB_UID}" --gid 100 --shell /bin/bash "${NB_USER}"
fi
mkdir -p "${home}"
chown "${NB_UID}:100" "${home}"
chmod 700 "${home}"
cd "${home}"
exec setpriv --reuid="${NB_UID}" --regid=100 --init-groups --inh-caps=-all --bounding-set=-all \
    env HOME="${home}" USER="${NB_USER}" LOGNAME="${NB_USER}" "$@"
