"""The instructor's course directory: the copy of the course that `python -m helpers hub setup`
puts in the instructor's home. Its own nbgrader_config.py (source = solutions/, release =
lessons/, the gradebook, the grading sandbox) is loaded from there."""
import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.root = os.path.expanduser("~/course")
