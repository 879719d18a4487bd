"""``gameday``: commands beside the pytest plugin (see ``gameday.cli.main``)."""

from gameday.cli.main import main

__all__ = ["main"]
