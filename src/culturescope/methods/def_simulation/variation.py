"""The cultural variation map (DEF §4.2.2, eqs. 2–5, Fig. 7): PCA of per-subject dimension scores.

A subject is a model on a culture, or a culture's human reference. Its score on a value dimension
(eq. 2) is the mean over the dimension's items of the expected answer under its distribution,
rescaled to [0, 1] by (code − 1) / (n − 1) so items with different scales weigh alike. Eq. 4 prints
the centring as the subtraction of the matrix mean; we centre each dimension (column) on its mean,
which is what PCA is and what the reference implementation's ``sklearn.PCA`` does. The covariance
(eq. 3; its 1/n_D factor does not move the eigenvectors) gives the two leading axes P, and Y = S'Pᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def dimension_scores(dist: np.ndarray, n_options: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Mean rescaled expected answer per dimension: ``dist`` is (K, n_max), ``groups`` the item rows
    of each dimension; NaN rows (no distribution) are left out, a dimension without any gives NaN."""
    codes = np.arange(dist.shape[1])
    expected = (dist * codes).sum(axis=1) / np.maximum(n_options - 1, 1)
    with np.errstate(invalid="ignore"):
        return np.array([np.nanmean(expected[g]) if np.isfinite(expected[g]).any() else np.nan for g in groups])


@dataclass(frozen=True)
class VariationMap:
    coords: np.ndarray  # (subjects, 2)
    axes: np.ndarray  # (2, dimensions): P
    explained: np.ndarray  # (2,) share of the variance on each axis


def variation_map(scores: np.ndarray) -> VariationMap:
    """PCA of a (subjects, dimensions) score matrix onto its two leading components. Each axis is
    signed so that its largest loading is positive (PCA fixes axes only up to sign)."""
    centred = scores - scores.mean(axis=0)
    cov = centred.T @ centred / max(len(scores) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1][:2]
    axes = vectors[:, order].T
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    total = values.clip(min=0).sum()
    explained = values[order] / total if total > 0 else np.zeros(len(order))
    return VariationMap(centred @ axes.T, axes, explained)


@dataclass(frozen=True)
class Subjects:
    labels: list[str]  # "backbone · system · culture", or "human · culture"
    cultures: list[str]
    human: list[bool]
    dimensions: list[str]
    scores: np.ndarray  # (subjects, dimensions)
    dropped: list[str]  # subjects left out: no valid answer on some dimension


def subject_scores(comps: list, survey, dimension_of: dict[str, str]) -> Subjects:
    """Eq. 2 for every compared system (``analyses.preferences.Compared``) and every culture's humans
    (on the items of the culture's first system). A subject without a score on some dimension cannot
    be placed on the map and is left out."""
    n_options = {it.id: len(it.options) for it in survey.items}
    dimensions = sorted({dimension_of[i] for c in comps for i in c.item_ids if i in dimension_of})
    subjects = [(f"{c.backbone} · {c.system} · {c.culture}", c.culture, False, c.item_ids, c.model) for c in comps]
    first = {}
    for c in comps:
        first.setdefault(c.culture, c)
    subjects += [(f"human · {k}", k, True, c.item_ids, c.human) for k, c in first.items()]
    kept, dropped, rows = [], [], []
    for label, culture, is_human, item_ids, dist in subjects:
        groups = [[k for k, i in enumerate(item_ids) if dimension_of.get(i) == d] for d in dimensions]
        row = dimension_scores(dist, np.array([n_options[i] for i in item_ids]), groups)
        if np.isfinite(row).all():
            kept.append((label, culture, is_human))
            rows.append(row)
        else:
            dropped.append(label)
    return Subjects(
        [k[0] for k in kept],
        [k[1] for k in kept],
        [k[2] for k in kept],
        dimensions,
        np.array(rows).reshape(len(rows), len(dimensions)),
        dropped,
    )
