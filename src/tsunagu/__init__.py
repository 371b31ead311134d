"""tsunagu (つなぐ) — an open-source national data platform."""

__version__ = "0.1.0"
