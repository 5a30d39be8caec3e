"""The fields of AgentLearningUpdated, spelled out from CONTRACT.md ("Messages out") rather than read from
the code under test, for every test that checks a published message."""

UPDATE_FIELDS = {
    "type",
    "eventId",
    "agentId",
    "version",
    "trigger",
    "traits",
    "learnedTraits",
    "actionPolicy",
    "explorationEpsilon",
    "confidence",
    "metrics",
    "occurredAt",
}
METRIC_FIELDS = {"feedbackCount", "batchSize", "avgReward", "sentiment", "rewardVariance", "blendWeight"}

# AgentLearningConfigured (docs/rules.md, "Published configuration"), in the order it is written.
LEARNING_CONFIGURED_FIELDS = [
    "type",
    "eventId",
    "agentId",
    "profile",
    "overrides",
    "effectiveRates",
    "sources",
    "capsApplied",
    "rulesVersion",
    "by",
    "sourceEventId",
    "occurredAt",
]
