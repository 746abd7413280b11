"""The verbs' shared argparse checks: a bad value is refused, saying what was expected."""

from __future__ import annotations

import argparse

import pytest

from multitrack.commands.argtypes import non_negative_int, positive_int, positive_seconds


def test_accepted_values_come_back_converted():
    assert positive_int("3") == 3 and non_negative_int("0") == 0 and positive_seconds("2.5") == 2.5


@pytest.mark.parametrize(
    ("check", "text", "expected"),
    [
        (positive_int, "0", "a whole number of at least 1, got '0'"),
        (positive_int, "1.5", "a whole number of at least 1, got '1.5'"),
        (non_negative_int, "-1", "a whole number of at least 0, got '-1'"),
        (positive_seconds, "0", "a positive number of seconds, got '0'"),
        (positive_seconds, "inf", "a positive number of seconds, got 'inf'"),
        (positive_seconds, "ten", "a positive number of seconds, got 'ten'"),
    ],
)
def test_bad_values_say_what_was_expected(check, text, expected):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected {expected}"):
        check(text)
