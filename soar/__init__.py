"""soar: detections-as-code and auditable incident response with DORA reporting built in."""

__version__ = "0.1.0"
