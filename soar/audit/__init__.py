"""The audit trail: hash-chained, tamper-evident records of every playbook step, approval and external call.

Workflows import :mod:`soar.audit.trail` (deterministic, no I/O); workers register
:class:`soar.audit.activities.AuditActivities`; code outside workflows appends with
:func:`soar.audit.direct.append_direct`; :mod:`soar.audit.verify` checks the chains. This package root
imports nothing, so a workflow importing the trail never pulls in a search client.
"""
