"""Pure value extraction: one function per FHIR datatype, turning a JSON value into index rows.

Each function takes the search parameter code and the element's JSON value and returns the rows it
contributes; none of them raises on malformed input (a value that cannot be read is not indexed).
Microsoft's FHIR server keeps one converter per datatype in the same way.

Spec: https://hl7.org/fhir/R4/search.html#ptypes
"""
