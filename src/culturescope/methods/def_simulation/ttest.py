"""Comparing two groups of models (DEF §5.2.2, eq. 7, Table 3).

Eq. 7 is Welch's t: (x̄₁ − x̄₂) / √(s₁²/n₁ + s₂²/n₂). Its degrees of freedom are Welch–Satterthwaite's;
Table 3's DF = 52 for two groups of 27 values is the pooled n₁ + n₂ − 2, which ``equal_var=True``
reproduces (with equal group sizes the t value is the same either way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from culturescope.errors import CulturescopeError


@dataclass(frozen=True)
class TTest:
    mean1: float
    sd1: float
    sem1: float
    n1: int
    mean2: float
    sd2: float
    sem2: float
    n2: int
    t: float
    df: float
    sed: float  # standard error of the difference, the denominator of eq. 7
    p: float  # two-sided

    def as_dict(self) -> dict:
        return asdict(self)


def ttest_from_stats(
    mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int, equal_var: bool = False
) -> TTest:
    """Eq. 7 from group means, standard deviations (n − 1 denominator) and sizes."""
    if n1 < 2 or n2 < 2:
        raise CulturescopeError(f"each group needs at least 2 values (got {n1} and {n2})")
    v1, v2 = sd1**2 / n1, sd2**2 / n2
    if equal_var:
        pooled = ((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2)
        sed, df = float(np.sqrt(pooled * (1 / n1 + 1 / n2))), float(n1 + n2 - 2)
    else:
        sed = float(np.sqrt(v1 + v2))
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) if v1 + v2 > 0 else float(n1 + n2 - 2)
    t = (mean1 - mean2) / sed if sed > 0 else float("nan")
    p = float(2 * stats.t.sf(abs(t), df)) if sed > 0 else float("nan")
    return TTest(mean1, sd1, sd1 / np.sqrt(n1), n1, mean2, sd2, sd2 / np.sqrt(n2), n2, float(t), float(df), sed, p)


def ttest(a, b, equal_var: bool = False) -> TTest:
    """Eq. 7 between two samples (e.g. the per-dimension divergences of two model families)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise CulturescopeError(f"each group needs at least 2 values (got {len(a)} and {len(b)})")
    return ttest_from_stats(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b), equal_var)
