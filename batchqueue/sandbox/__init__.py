"""A local stand-in for the Insight API, faithful to its documented behaviour, with fault injection.

Usage::

    with Sandbox(SandboxConfig(faults=Faults(p_500_after=0.1, seed=7))) as sb:
        ...  # point BATCHQUEUE_BASE_URL at sb.api_url; sb.app.store.dump() is the ground truth
"""

from batchqueue.sandbox.app import SandboxApp, SandboxConfig
from batchqueue.sandbox.faults import Faults
from batchqueue.sandbox.runner import Sandbox

__all__ = ["Faults", "Sandbox", "SandboxApp", "SandboxConfig"]
