"""Champion/challenger registry: one registered model per band, a promotion gate, overrides.

Every band's trained model (the family rule's choice: the logistic regression or LightGBM,
calibrated, see :mod:`training.family`) is registered as a new version of ``<prefix>-<band>``
(e.g. ``aanwas-13-19``) and gets the alias ``challenger``. The pure gate
(:func:`training.promotion.decide_promotion`, re-exported here) decides whether it also takes
the alias ``champion``; :func:`apply_promotion` records the decision (tags on the version,
including a reviewer's override reason) and moves the aliases. The loaders give back a
version or a whole :class:`~models.ModelBundle` of champions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from aanwas.common.errors import InputError
from models import ModelBundle
from training.promotion import PromotionDecision, decide_promotion

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PromotionDecision",
    "apply_promotion",
    "champion_version",
    "decide_promotion",
    "load_bundle",
    "load_registered",
    "promote_version",
    "registered_model_name",
    "tag_version",
]

CHAMPION = "champion"
CHALLENGER = "challenger"


def registered_model_name(prefix: str, band: str) -> str:
    """Registered model of a band.

    Examples
    --------
    >>> registered_model_name("aanwas", "13-19")
    'aanwas-13-19'
    """
    return f"{prefix}-{band}"


def _client(uri: str | None = None) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri) if uri else mlflow.MlflowClient()


def champion_version(name: str, *, uri: str | None = None) -> str | None:
    """Version number holding the ``champion`` alias of registered model ``name``, or None."""
    try:
        return str(_client(uri).get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def load_registered(name: str, alias_or_version: str, *, uri: str | None = None) -> Any:
    """Load a registered model version (by alias, e.g. ``champion``, or by number)."""
    if uri:
        mlflow.set_registry_uri(uri)
        mlflow.set_tracking_uri(uri)
    ref = f"models:/{name}/{alias_or_version}" if alias_or_version.isdigit() else f"models:/{name}@{alias_or_version}"
    return mlflow.sklearn.load_model(ref)


def tag_version(name: str, version: str, tags: dict[str, str], *, uri: str | None = None) -> None:
    """Set tags on a registered model version (e.g. which model family it is and why)."""
    client = _client(uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def describe(name: str, model_text: str, version: str, version_text: str, *, uri: str | None = None) -> None:
    """Descriptions in the model registry: of the registered model (all versions) and of one
    version (its model card's plain-language summary)."""
    client = _client(uri)
    client.update_registered_model(name, description=model_text)
    client.update_model_version(name, version, description=version_text)


def apply_promotion(name: str, version: str, decision: PromotionDecision, *, uri: str | None = None) -> None:
    """Record the decision as tags on the version, alias it ``challenger`` and, when promoted,
    move ``champion`` to it (the previous champion version keeps its own tags)."""
    client = _client(uri)
    for key, value in decision.tags().items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)


def promote_version(name: str, version: str, decision: PromotionDecision, *, uri: str | None = None) -> None:
    """Record a reviewer's decision on an existing version and, when it promotes, move
    ``champion`` to it (the ``challenger`` alias stays on the latest trained version)."""
    client = _client(uri)
    for key, value in decision.tags().items():
        client.set_model_version_tag(name, version, key, value)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)


def load_bundle(prefix: str, bands: Sequence[str], *, alias: str = CHAMPION, uri: str | None = None) -> ModelBundle:
    """The ``alias`` version of every band's registered model as a :class:`ModelBundle`.

    Raises
    ------
    InputError
        When a band has no version with that alias (e.g. nothing was promoted yet).
    """
    client = _client(uri)
    estimators, versions = {}, {}
    for band in bands:
        name = registered_model_name(prefix, band)
        try:
            version = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            raise InputError(
                "model registry", None, None, f"no '{alias}' version of {name}; train (and promote) first"
            ) from None
        estimators[band] = load_registered(name, version, uri=uri)
        versions[band] = f"{name}/{version}"
    return ModelBundle(estimators, versions)
