"""`leadlink publish`: write the marts back into the CRM's own tables, in batches, reversibly.

Modules, one job each: `target` (where the CRM is, connections, lock settings), `extract` (the mart
rows publish needs, staged into temp tables in the CRM's database), `plan` (what an apply would
change, as a dict and as text), `batches` (short id-range transactions with lock_timeout and
retries), `steps` (the four apply steps), `constraints` (FK and NOT NULL without long locks),
`undo`, and `command` (the click command). docs/publish.md explains the design.
"""
