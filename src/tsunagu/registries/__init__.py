"""Base registries: authoritative, versioned reference data with history and change events.

Subpackages: ``address`` (アドレス・ベース・レジストリ), ``corporations`` (法人番号), ``laws``
(法令), ``residents`` (住民基本台帳, synthetic people only).
"""
