"""The access audit, who read or changed what (`service`), its retention purge
(`retention`) and its route (`schemas`, `views`).

May import `db`, `people.security`/`people.deps` and the common package; never
another domain's views.
"""
