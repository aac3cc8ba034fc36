"""The environments config (``environments/*.yaml``): load and validate, then apply as events.

``load_environments(directory)`` → :class:`EnvironmentsConfig` or :class:`ConfigError`
(every problem as ``file:line: key: message``); ``engine.config.sync.apply_config``
records it on the App aggregates.
"""

from engine.config.loader import ConfigError, ConfigProblem, EnvironmentsConfig, load_environments
from engine.domain.pipeline import AppSpec, Credentials

__all__ = [
    "AppSpec",
    "ConfigError",
    "ConfigProblem",
    "Credentials",
    "EnvironmentsConfig",
    "load_environments",
]
