"""Trust services: platform CA and certificates, the signed trust list, JWS signatures, timestamps.

Who (signature), what and from whom (issuer-signed data), when (RFC 3161 timestamp).
"""
