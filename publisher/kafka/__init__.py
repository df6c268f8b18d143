"""The Kafka side: Avro encoding, transactional producer, topics, state records. Knows nothing of HTTP."""
