"""The domain: aggregates, their events and the policies they enforce. No I/O here.

Commands arrive with every fact they need (the policy, the upstream environment's
verified releases, the current time); guards raise a `DomainError` naming the values
involved before any event is triggered.
"""
