"""A faithful stand-in for the Netstream GetMeterReadings API, over real HTTP, for tests and demos."""
