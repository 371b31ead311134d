"""Dataset versions: a snapshot per change of a dataset's metadata or distributions, and diffs."""
