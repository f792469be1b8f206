"""The built-in SMART on FHIR authorization server (``/auth/*``), for deployments without their own
identity provider: https://hl7.org/fhir/smart-app-launch/ (App Launch 2.x and Backend Services).

It issues the access tokens the resource server (``ehr.auth``) validates; an external identity provider
replaces it by configuration (``Settings.auth_issuer``, ``auth_jwks_url``).
"""
