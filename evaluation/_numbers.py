"""Numbers for readers: an estimate and its interval rounded to what the interval supports.

A reader should not see more digits than the data can carry. The rule (that of the Particle
Data Group for quoting uncertainties, applied to the interval's half-width ``h``): write ``h`` as
``m * 10**k`` with ``1 <= m < 10``; when ``m < 3.55`` the last shown digit is at ``10**(k-1)``
(two significant digits of ``h``), otherwise at ``10**k`` (one). The estimate is rounded to that
digit; the lower bound is rounded down and the upper bound up, so the written interval always
contains the computed one (and so the written estimate, when the estimate lies in its interval).

An interval of width zero (a reference group, a quantity that is exact) supports no rule; the
value is then written with :data:`EXACT_SIGNIFICANT` significant digits and no interval.
Missing or non-finite values read :data:`NOT_AVAILABLE`.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

#: What a missing value reads as.
NOT_AVAILABLE = "n/a"
#: Significant digits of a value without an interval (exact or zero width).
EXACT_SIGNIFICANT = 3
#: Mantissa of the half-width below which two significant digits of it are kept (PDG rule).
TWO_DIGIT_BELOW = 3.55
#: Most significant digits of an estimate a reader is shown, however narrow its interval.
MAX_SIGNIFICANT = 3


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def interval_exponent(lo: float, hi: float) -> int:
    """Power of ten of the last digit the interval ``lo..hi`` supports (``hi > lo``).

    Examples
    --------
    >>> interval_exponent(0.723, 0.801)  # half-width 0.039: one digit, at 0.01
    -2
    >>> interval_exponent(0.0068, 0.0091)  # half-width 0.00115: two digits, to 0.0001
    -4
    >>> interval_exponent(100.0, 180.0)  # half-width 40: one digit, at 10
    1
    """
    h = (float(hi) - float(lo)) / 2.0
    if not h > 0 or not math.isfinite(h):
        raise ValueError("interval must have positive finite width")
    k = math.floor(math.log10(h))
    m = h / 10.0**k
    if m >= 10.0:  # floating point at an exact power of ten
        k, m = k + 1, m / 10.0
    return k - 1 if m < TWO_DIGIT_BELOW else k


def _dec(x: float, scale: float = 1.0) -> Decimal:
    """Exact decimal of the shortest repr (so 0.0068 * 100 is 0.68, not 0.6799...)."""
    return Decimal(repr(float(x))) * Decimal(repr(float(scale)))


def _round(x: float | Decimal, exponent: int, mode: str) -> Decimal:
    d = x if isinstance(x, Decimal) else _dec(x)
    return d.quantize(Decimal(1).scaleb(exponent), rounding=mode)


def _text(d: Decimal, exponent: int) -> str:
    places = max(0, -exponent)
    v = d.quantize(Decimal(1).scaleb(-places)) if places else d.quantize(Decimal(1))
    if v == 0:
        v = abs(v)  # no "-0.0"
    s = f"{v:,.{places}f}"
    return s


def _significant(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    k = math.floor(math.log10(abs(x)))
    exponent = min(0, k - digits + 1)
    return _text(_round(x, exponent, ROUND_HALF_EVEN), exponent)


@dataclasses.dataclass(frozen=True)
class Rounded:
    """An estimate and its interval as text, rounded together.

    Attributes
    ----------
    estimate, lo, hi : str
        ``lo``/``hi`` are empty when there is no interval (width zero or missing).
    exponent : int or None
        Power of ten of the last shown digit (None without an interval).
    """

    estimate: str
    lo: str = ""
    hi: str = ""
    exponent: int | None = None

    def __str__(self) -> str:
        if not self.lo:
            return self.estimate
        return f"{self.estimate} ({self.lo}\u2013{self.hi})"


def round_interval(
    estimate: float | None,
    lo: float | None = None,
    hi: float | None = None,
    *,
    scale: float = 1.0,
    max_significant: int | None = MAX_SIGNIFICANT,
) -> Rounded:
    """Round ``estimate`` and its interval ``lo..hi`` to the digits the interval supports.

    Parameters
    ----------
    estimate, lo, hi : float or None
        Missing or non-finite ``estimate`` gives ``n/a``; a missing bound, or ``lo == hi``,
        gives the estimate alone with :data:`EXACT_SIGNIFICANT` significant digits.
    scale : float
        Multiply all three first (100 for percentages).
    max_significant : int or None
        A very narrow interval supports more digits than a reader needs: the estimate is never
        shown with more significant digits than this (the last digit then moves up, never down).

    Returns
    -------
    Rounded

    Examples
    --------
    >>> str(round_interval(0.7551, 0.7234, 0.8012))
    '0.76 (0.72–0.81)'
    >>> str(round_interval(0.00803, 0.00680, 0.00912, scale=100))
    '0.80 (0.68–0.92)'
    >>> str(round_interval(0.0022284, 0.0022275, 0.0022296, scale=100))  # at most three digits
    '0.223 (0.222–0.223)'
    >>> str(round_interval(1.0, 1.0, 1.0))
    '1'
    >>> str(round_interval(float("nan"), 0.1, 0.2))
    'n/a'
    """
    if not _finite(estimate):
        return Rounded(NOT_AVAILABLE)
    e = _dec(estimate, scale)  # type: ignore[arg-type]
    if not (_finite(lo) and _finite(hi)):
        return Rounded(_strip(_significant(float(e), EXACT_SIGNIFICANT)))
    a, b = sorted((_dec(lo, scale), _dec(hi, scale)))  # type: ignore[arg-type]
    if not b > a:
        return Rounded(_strip(_significant(float(e), EXACT_SIGNIFICANT)))
    k = interval_exponent(float(a), float(b))
    if max_significant is not None and e != 0:
        k = max(k, math.floor(math.log10(abs(float(e)))) - max_significant + 1)
    return Rounded(
        _text(_round(e, k, ROUND_HALF_EVEN), k),
        _text(_round(a, k, ROUND_FLOOR), k),
        _text(_round(b, k, ROUND_CEILING), k),
        k,
    )


def fmt_interval(
    estimate: float | None, lo: float | None = None, hi: float | None = None, *, percent: bool = False
) -> str:
    """``round_interval`` as one string; ``percent`` shows shares as percentages (``" %"``).

    Examples
    --------
    >>> fmt_interval(0.0130, 0.0101, 0.0142, percent=True)
    '1.30 % (1.01–1.42 %)'
    """
    r = round_interval(estimate, lo, hi, scale=100.0 if percent else 1.0)
    if not percent or r.estimate == NOT_AVAILABLE:
        return str(r)
    if not r.lo:
        return f"{r.estimate} %"
    return f"{r.estimate} % ({r.lo}\u2013{r.hi} %)"


def fmt_value(x: object, significant: int = EXACT_SIGNIFICANT, *, percent: bool = False) -> str:
    """A number without an interval: whole numbers with separators, others with
    ``significant`` significant digits; ``n/a`` when missing.

    Examples
    --------
    >>> fmt_value(15074), fmt_value(0.8240629538993264), fmt_value(None), fmt_value(0.25, percent=True)
    ('15,074', '0.824', 'n/a', '25 %')
    """
    if not _finite(x):
        return NOT_AVAILABLE
    v = float(x)  # type: ignore[arg-type]
    if percent:
        return f"{_strip(_significant(v * 100.0, significant))} %"
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return _strip(_significant(v, significant))


def _strip(text: str) -> str:
    """Trailing zeros of a value without an interval carry no information."""
    return text.rstrip("0").rstrip(".") if "." in text else text
