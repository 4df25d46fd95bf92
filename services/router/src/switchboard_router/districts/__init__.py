"""Districts: the district map the console draws, with each district's open items
(`service`) and the route (`schemas`, `views`).

May import `db`, `items.steps` (what a caller may see), `items.status`, `routing` and
the common package; never another domain's views.
"""
