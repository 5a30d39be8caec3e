"""`clustering_insights`: one document per monthly clustering, with what became of each suggestion."""

from __future__ import annotations

from typing import Any

from domain.clustering_insights import OPEN, ClusteringInsights
from domain.timestamps import to_iso
from projections.projection import Projection, View
from projections.read_model_store import Collection

INSIGHTS = "clustering_insights"


class ClusteringInsightsView(Projection):
    name = INSIGHTS
    version = 1
    collections = (Collection(INSIGHTS, indexes=(("period",),)),)
    topics = frozenset({ClusteringInsights.ClusteringRecorded.TOPIC, ClusteringInsights.SuggestionResolved.TOPIC})

    def apply(self, event: Any, view: View) -> None:
        if isinstance(event, ClusteringInsights.ClusteringRecorded):
            view.put(
                INSIGHTS,
                event.period,
                {
                    "period": event.period,
                    "agents": event.agents,
                    "clustered": event.clustered,
                    "centroids": event.centroids,
                    "refreshed": event.refreshed,
                    "priors": event.priors,
                    "suggestions": [
                        {**s, "status": OPEN, "resolvedBy": None, "reason": None} for s in event.suggestions
                    ],
                    "recordedAt": to_iso(event.occurred_at),
                },
            )
        elif isinstance(event, ClusteringInsights.SuggestionResolved):
            doc = view.get(INSIGHTS, event.originator_id.split(":", 1)[1])
            if doc is None:
                return
            for suggestion in doc["suggestions"]:
                if suggestion["agentId"] == event.agent_id:
                    suggestion.update(status=event.outcome, resolvedBy=event.by, reason=event.reason)
            view.put(INSIGHTS, doc["period"], doc)
