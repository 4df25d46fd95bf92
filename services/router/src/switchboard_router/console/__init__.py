"""The operations console: static files (HTML, JS, CSS) and the routes that serve
them (`views`). Imports nothing else of the router's."""
