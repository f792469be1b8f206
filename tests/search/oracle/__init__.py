"""The search oracle: search results computed from the raw resource JSON (FHIRPath with fhirpathpy and the
matching rules of https://hl7.org/fhir/R4/search.html written out again), never through the index tables or
``ehr.search``'s extraction, compared with the server over HTTP on each engine (SQLite, PostgreSQL, in-memory)."""
