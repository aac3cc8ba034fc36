"""baton's engine: domain, event store, Git, appliers, configuration and CLI."""
