"""The Netstream side: HTTP client, auth, parsing, reading types and time zones. Knows nothing of Kafka."""
