"""smartfactory: an Industry 4.0 teaching pipeline (simulate → MQTT → ingest → store → SPC → dashboard)."""

__version__ = "0.1.0"
