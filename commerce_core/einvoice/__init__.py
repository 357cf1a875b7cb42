"""Taiwan e-invoicing (seeds/003, contracts/einvoice-turnkey.md), free of Dagster.

ban        seller/buyer BAN checksum
safe_xml   parsing untrusted XML (no DTD, no entities, no network, size limit)
schemas    the official MIG XSDs (vendored, unmodified) and validation against them
e0501      E0501 number-assignment files → number ranges
uploads    invoice upload CSV → invoices per (tenant, order), with rejects per rule
amounts    the project's amount rule (5 % tax, B2C inclusive / B2B exclusive)
f0401      one invoice → MIG 4.1 F0401 XML
turnkey    the Turnkey folder layout, atomic writes, result messages, resend backoff
store      tenants, number pools, uploads and invoices in the database (tenant-scoped)
"""
