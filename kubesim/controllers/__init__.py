"""Simulated workload controllers (Deployment, StatefulSet, DaemonSet, Job)."""

from kubesim.controllers.manager import ControllerManager

__all__ = ["ControllerManager"]
