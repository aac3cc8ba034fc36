"""What the CLI and README tests share: the tokens, the config, a running baton's handle."""

from __future__ import annotations

from dataclasses import dataclass

from baton.service.serve import Running

TOKENS = {"alice": "alice-token-123456", "bob": "bob-token-123456"}
CONFIG = """\
apps:
  - name: shop
    repo: {repo}
    branch: main
    path: deploy
    pipeline:
      - name: dev
        cluster: kubesim:dev
        policy: {{auto_promote: true}}
      - name: staging
        cluster: kubesim:staging
        policy: {{approvals: 1}}
      - name: prod
        cluster: kubesim:prod
"""


@dataclass
class Live:
    """A served baton and what a user needs to talk to it."""

    state: Running
    url: str
    release: str
