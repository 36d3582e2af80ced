"""Incident response: the models, settings and policies the playbooks and their activities share."""
