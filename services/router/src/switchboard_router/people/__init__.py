"""Officers, service accounts and their tokens: the caller and their rights
(`security`, pure), the request dependencies every view uses (`deps`), officers,
shifts and tokens in the store (`service`) and the routes (`schemas`, `views`).

May import `db`, `audit.service`, `routing.holder` (for `deps`) and the common
package; never another domain's views.
"""
