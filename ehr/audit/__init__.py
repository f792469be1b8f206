"""Access logging: the one boundary every interaction's audit record passes through."""
