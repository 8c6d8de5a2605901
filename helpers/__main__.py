"""Command line: python -m helpers <command>. See README.md for every command."""
import sys

from helpers.infra.cli import main

sys.exit(main())
