"""argparse `type=` checks shared by the verbs: a bad value is a usage error (exit 2) that
says what was expected, before any work starts."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """A whole number of at least 1 (counts: timelines, editors, tracks, jobs)."""
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    """A whole number of at least 0 (seeds: numpy's SeedSequence takes whole numbers from 0)."""
    return _whole_number(text, minimum=0)


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {text!r}")
    return value


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    """`--runtime torch|onnx|onnx-int8`, for a verb that rolls a model out (`multitrack.sample.runtime.load_model`)."""
    from multitrack.sample import RUNTIMES

    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="what decodes the rollout: torch (default), or ONNX Runtime on a folder `multitrack export --onnx` "
        "wrote (onnx-int8: its --quantize int8 step); needs the onnx extra",
    )
