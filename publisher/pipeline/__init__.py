"""The only place where the Netstream side and the Kafka side meet: plan, fetch, dedup, encode, publish."""
