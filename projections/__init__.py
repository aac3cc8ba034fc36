"""Read models built from the event log: current state, lineage, audit, history.

The runner feeds events in global order to each projection and commits the projection's
rows together with its checkpoint. Every read model can be dropped and rebuilt from the
log; rebuilds build into a scratch schema and swap in atomically.
"""
