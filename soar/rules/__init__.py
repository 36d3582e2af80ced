"""Detections as code: load, validate and compile Sigma rules to Elasticsearch Query DSL."""
