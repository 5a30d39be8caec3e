"""`model_versions`: one document per trained model version, with its lineage (v2: `parentModelId`, the
adapter a warm start began from, and the job's `hyperparameters`) and the aliases pointing at it."""

from __future__ import annotations

from typing import Any

from domain.model_registry import ModelRegistry, scope_of_registry
from domain.timestamps import to_iso
from projections.projection import Projection, View
from projections.read_model_store import Collection

MODEL_VERSIONS = "model_versions"


class ModelVersions(Projection):
    name = MODEL_VERSIONS
    version = 2
    collections = (Collection(MODEL_VERSIONS, indexes=(("agentId", "version"), ("archetype", "version"))),)
    topics = frozenset({ModelRegistry.VersionRegistered.TOPIC, ModelRegistry.AliasMoved.TOPIC})

    def apply(self, event: Any, view: View) -> None:
        if isinstance(event, ModelRegistry.VersionRegistered):
            scope = scope_of_registry(event.originator_id)
            view.put(
                MODEL_VERSIONS,
                event.model_id,
                {
                    "modelId": event.model_id,
                    **scope.to_dict(),
                    "version": event.version,
                    "datasetId": event.dataset_id,
                    "baseModel": event.base_model,
                    "jobId": event.job_id,
                    "metrics": event.metrics,
                    "adapterDir": event.adapter_dir,
                    "aliases": [],
                    "createdAt": to_iso(event.occurred_at),
                    "parentModelId": event.parent_model_id,
                    "hyperparameters": event.hyperparameters,
                },
            )
        elif isinstance(event, ModelRegistry.AliasMoved):
            if event.previous_model_id is not None:
                self._change_aliases(view, event.previous_model_id, lambda aliases: aliases - {event.alias})
            self._change_aliases(view, event.model_id, lambda aliases: aliases | {event.alias})

    @staticmethod
    def _change_aliases(view: View, model_id: str, change) -> None:
        doc = view.get(MODEL_VERSIONS, model_id)
        if doc is None:  # a move without its version: nothing sensible to show
            return
        view.put(MODEL_VERSIONS, model_id, {**doc, "aliases": sorted(change(set(doc["aliases"])))})
