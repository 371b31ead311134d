"""The transparency log: an append-only Merkle tree (RFC 9162) served as C2SP tlog tiles."""
