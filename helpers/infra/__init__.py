"""The course's infrastructure: assets, the cache, results, the lesson registry, the runner,
grading and the command line. Lessons never need it directly; ``helpers`` uses it."""
