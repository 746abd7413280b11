"""`multitrack ingest`: not built yet."""

from __future__ import annotations

import argparse

from multitrack.errors import MultitrackError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise MultitrackError("'ingest' is not implemented yet")
