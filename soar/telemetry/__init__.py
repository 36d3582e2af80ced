"""Telemetry: raw records of six sources normalised to ECS, index templates, ingest and dead letters."""
