# One set-up command, one test command, one command that runs the whole course.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test test-fast course results release hub grader-setup
setup:            ## create .venv with the pinned environment and the helpers package
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m helpers doctor

test:             ## lint, helpers, notebooks (nbval, quick profile), grading (real nbgrader runs)
	COURSE_PROFILE=quick $(PY) -m pytest -n 2 tests solutions --nbval-lax --nbval-current-env -p no:cacheprovider --durations=15

test-fast:        ## for development: lint and the helpers' tests, no notebook execution and no slow tests
	COURSE_PROFILE=quick $(PY) -m pytest -n 2 tests -m "not slow" -p no:cacheprovider

course:           ## execute every lesson (full profile) into build/, with per-lesson times
	$(PY) -m helpers run

results:          ## measured figures next to their targets
	$(PY) -m helpers results

release:          ## regenerate lessons/ from solutions/ with nbgrader
	$(PY) -m helpers release

hub:              ## a class on this machine: JupyterHub + nbgrader's exchange, as root (README: Teaching a class on JupyterHub)
	$(PY) -m helpers hub

grader-setup:     ## instructors (as root, Debian/Ubuntu): bubblewrap, which sandboxes every autograded notebook
	apt-get update -qq && apt-get install -y -qq bubblewrap
	$(PY) -m helpers.infra.sandbox
