"""baton's REST API: an aiohttp application over the engine's commands and the read models.

Where it sits: at the edge. Requests come in, are authenticated and validated here, and
become commands on `engine.promotions.Promotions` (writes) or queries on `projections`
(reads). Nothing in `engine` or `projections` imports this package; `baton` (the
command line, `baton serve`) runs it.
"""
