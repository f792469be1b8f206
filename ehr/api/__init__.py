"""The HTTP layer: FastAPI routes that only translate HTTP to the interactions and back."""
