"""A set of fitted, calibrated models, one per age band, that scores a feature table."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


@dataclasses.dataclass(frozen=True)
class ModelBundle:
    """Calibrated classifiers per age band.

    Parameters
    ----------
    estimators : Mapping[str, estimator]
        Age band -> fitted classifier with ``predict_proba`` and ``feature_names_in_``
        (e.g. a :class:`~sklearn.calibration.CalibratedClassifierCV` from
        :func:`models.fit_calibrated`). The feature names say which columns it reads.
    versions : Mapping[str, str]
        Age band -> model version label (e.g. the registry version); for reports.

    Examples
    --------
    >>> ModelBundle({}).bands
    ()
    """

    estimators: Mapping[str, Any]
    versions: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimators", MappingProxyType(dict(self.estimators)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        for band, est in self.estimators.items():
            if not hasattr(est, "predict_proba") or not hasattr(est, "feature_names_in_"):
                raise TypeError(f"model of band {band!r} needs predict_proba and feature_names_in_")

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(self.estimators)

    @property
    def version_label(self) -> str:
        """The registered version of every band in one line, e.g. ``"8-12: aanwas-8-12/3, ..."``."""
        return ", ".join(f"{b}: {v}" for b, v in self.versions.items())

    def features(self, band: str) -> list[str]:
        """Columns the model of ``band`` reads."""
        return [str(c) for c in self.estimators[band].feature_names_in_]
