"""FHIR search: the parameter registry, value extraction into index rows, and query planning.

Spec: https://hl7.org/fhir/R4/search.html
"""
