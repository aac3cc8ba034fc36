"""The web console: server-rendered pages over the API's read models and domain commands.

Where it sits: beside `api`, in the same process and behind the same authorization. It
imports `api` (reads, roles, the SSE tail) and `engine`; `api` never imports it, and
`baton serve` mounts it on the API application (`console.app.setup`).
"""
