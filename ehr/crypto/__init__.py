"""Encryption at rest: the one boundary every stored payload passes through."""
