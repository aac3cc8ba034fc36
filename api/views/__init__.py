"""The request handlers, one module per resource; routes are declared in `api.routes`."""
