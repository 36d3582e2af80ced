"""Temporal activities of the playbooks: classes that receive their clients (the only way workflows reach the world)."""
