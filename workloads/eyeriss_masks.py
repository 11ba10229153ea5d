"""Zoo entries (being written)."""
