"""Audit reports for data officers, computed from :class:`ehr.audit.rows.AuditRow` only.

- :mod:`.model` — the patient access report (HIPAA accounting of disclosures) and a user's activity;
- :mod:`.anomalies` — break-glass, after-hours, unusual volume, another hospital's patient without a care
  link, bursts of denied attempts; each anomaly says why in a reason string;
- :mod:`.document` — any report as one neutral document (tables, charts), which :mod:`.html`,
  :mod:`.pdf` and :mod:`.csv_out` render;
- :mod:`.build` — what the CLI and the web page call: a request and a reader in, a document out;
- :mod:`.source` — where the reader comes from (the one place the real audit log is wired in).

Reports hold references (``Patient/123``) and agent ids, never names or other PHI.
"""
