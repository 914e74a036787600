"""Rounding an estimate and its interval to the digits the interval supports."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation._numbers import fmt_interval, fmt_value, interval_exponent, round_interval


@pytest.mark.parametrize(
    ("est", "lo", "hi", "text"),
    [
        # half-width 0.0389 -> mantissa 3.89 >= 3.55: one digit at 0.01; lo down, hi up
        (0.7551, 0.7234, 0.8012, "0.76 (0.72\u20130.81)"),
        # half-width 0.00115 -> mantissa 1.15: two digits, last at 0.0001
        (0.00803, 0.00680, 0.00912, "0.0080 (0.0068\u20130.0092)"),
        # half-width 40 -> one digit at 10: 143.2 -> 140, 100 -> 100, 180 -> 180
        (143.2, 100.0, 180.0, "140 (100\u2013180)"),
        # half-width 30 -> mantissa 3.0 < 3.55: two digits, last at 1
        (151.5, 120.0, 180.0, "152 (120\u2013180)"),
        # half-width 0.5 (mantissa 5): last digit at 0.1
        (2.04, 1.55, 2.55, "2.0 (1.5\u20132.6)"),
        # a bound exactly on the grid stays where it is
        (0.5, 0.4, 0.6, "0.50 (0.40\u20130.60)"),
        # half-width 350, mantissa 3.5 < 3.55: two digits, last at 10, but a reader gets at most
        # three significant digits of the estimate: last at 100; thousands separated
        (12345.0, 12000.0, 12700.0, "12,300 (12,000\u201312,700)"),
        # zero width: no interval, three significant digits without trailing zeros
        (1.0, 1.0, 1.0, "1"),
        (0.123456, None, None, "0.123"),
        (float("nan"), 0.0, 1.0, "n/a"),
        (None, None, None, "n/a"),
    ],
)
def test_hand_computed_cases(est, lo, hi, text):
    assert str(round_interval(est, lo, hi)) == text


def test_percentages_scale_before_rounding():
    # 0.0068 * 100 is 0.68 exactly (not 0.6799999 rounded down to 0.67)
    assert fmt_interval(0.00803, 0.0068, 0.00912, percent=True) == "0.80 % (0.68\u20130.92 %)"
    assert fmt_interval(0.25, None, None, percent=True) == "25 %"


def test_values_without_interval():
    assert fmt_value(15074) == "15,074"
    assert fmt_value(0.8240629538993264) == "0.824"
    assert fmt_value(float("inf")) == "n/a"
    assert fmt_value(True) == "n/a"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(a=finite, b=finite, t=st.floats(min_value=0.0, max_value=1.0))
def test_rounded_interval_contains_rounded_estimate_and_digits_follow_the_width(a, b, t):
    lo, hi = min(a, b), max(a, b)
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):
        return
    est = lo + t * (hi - lo)
    est = min(max(est, lo), hi)
    r = round_interval(est, lo, hi, max_significant=None)
    e, rl, rh = (Decimal(x.replace(",", "")) for x in (r.estimate, r.lo, r.hi))
    # contains: the written interval holds the written estimate and the computed interval
    assert rl <= e <= rh
    assert rl <= Decimal(repr(lo)) and Decimal(repr(hi)) <= rh
    # digits never finer than the interval supports, never coarser than one digit of it:
    # the half-width is 3.55 to 35.5 units of the last shown digit
    unit = 10.0**r.exponent
    h = (hi - lo) / 2.0
    assert 3.5 <= h / unit < 36.0
    # every part is written to the same last digit
    places = max(0, -r.exponent)
    for part in (r.estimate, r.lo, r.hi):
        assert (len(part.split(".")[1]) if "." in part else 0) == places


@settings(max_examples=200, deadline=None)
@given(a=finite, b=finite, t=st.floats(min_value=0.0, max_value=1.0), sig=st.integers(1, 4))
def test_the_reader_cap_only_ever_drops_digits(a, b, t, sig):
    lo, hi = min(a, b), max(a, b)
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):
        return
    est = min(max(lo + t * (hi - lo), lo), hi)
    full = round_interval(est, lo, hi, max_significant=None)
    capped = round_interval(est, lo, hi, max_significant=sig)
    assert capped.exponent >= full.exponent  # never finer than the interval supports
    e, rl, rh = (Decimal(x.replace(",", "")) for x in (capped.estimate, capped.lo, capped.hi))
    assert rl <= e <= rh
    # coarser only as far as needed to show at most `sig` significant digits of the estimate
    want = full.exponent if est == 0 else max(full.exponent, math.floor(math.log10(abs(est))) - sig + 1)
    assert capped.exponent == want


def test_narrow_interval_shows_three_digits():
    # half-width 0.0000105 % supports 0.22284; a reader is shown three digits
    assert fmt_interval(0.0022284, 0.0022275, 0.0022296, percent=True) == "0.223 % (0.222\u20130.223 %)"
    assert str(round_interval(12345.0, 12000.0, 12700.0, max_significant=None)) == "12,340 (12,000\u201312,700)"


@given(st.floats(min_value=1e-12, max_value=1e12))
def test_exponent_is_that_of_one_or_two_digits_of_the_half_width(h):
    k = interval_exponent(0.0, 2.0 * h)
    assert 10.0 ** (k) <= h * (1 + 1e-9) or math.isclose(10.0**k, h)
    assert h / 10.0**k < 36.0
