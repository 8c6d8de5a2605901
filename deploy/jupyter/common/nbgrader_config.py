"""nbgrader settings for everyone on the class server: students, instructor, graders.

`python -m helpers hub setup` installs deploy/jupyter/ as <deployment>/jupyter/, and every
single-user server finds this folder through JUPYTER_CONFIG_PATH (on a dedicated server
the same lines can go into /etc/jupyter/nbgrader_config.py, with the exchange path written out).
"""
import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# One course on this hub. Students fetch and submit under this id; nbgrader's NoAuthPlugin
# (the default) shows every student the course's assignments.
c.CourseDirectory.course_id = "transfer-learning"

# The exchange is shared by all accounts: <deployment>/exchange, next to this config's folder.
# nbgrader's permissions keep submissions apart (students may write into inbound/ but not
# list it; every submission folder ends with a random string).
_deployment = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
c.Exchange.root = os.path.join(_deployment, "exchange")

# Validate runs a student's notebook in their own server, in the lessons' quick profile
# (nbgrader sets NBGRADER_EXECUTION). nbgrader's 30 s per cell is too short for lessons that
# extract features; this is the course's own limit (see the course's nbgrader_config.py).
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
c.Execute.iopub_timeout = 60
