"""Taiwan e-invoicing (docs/protocols/einvoice-turnkey.md; background in docs/background.md), free of Dagster.

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

import os

# Processes taking uploads or issuing tenants side by side: one more than the cores, because each
# tenant's transaction waits for its commit to reach the disk, and the extra process keeps the
# cores busy meanwhile (peak day on 2 cores: 59.2 → 57.2 s, the idle core-seconds gone).
DEFAULT_WORKERS = (os.cpu_count() or 1) + 1
