"""The RESTful interactions of https://hl7.org/fhir/R4/http.html, one module each.

Each is a plain function of a :class:`~ehr.fhir.interactions.context.Context`, a unit of work and
its inputs, returning a :class:`~ehr.fhir.interactions.context.Result`; none touches HTTP.
"""
