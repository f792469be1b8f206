"""The ``ehr`` command line."""
