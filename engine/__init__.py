"""baton's engine: domain, event store, Git, appliers, health rules and configuration."""
