"""FHIR R4 (4.0.1): JSON handling, validation, interactions and operations."""
