from adapters.kafka.topics import KafkaTopics
from adapters.messages.outbound import LEARNING_UPDATES


def test_prefixed_topics_put_every_default_name_under_the_prefix_and_map_the_contract_names_to_them():
    topics = KafkaTopics.prefixed("bench-1")
    defaults = KafkaTopics()
    assert topics.feedback == f"bench-1.{defaults.feedback}"
    assert topics.relay_positions == f"bench-1.{defaults.relay_positions}"
    assert len({topics.feedback, topics.dead_letters, topics.learning_updates, topics.model_updates}) == 4
    assert topics.physical(LEARNING_UPDATES) == f"bench-1.{defaults.learning_updates}"
