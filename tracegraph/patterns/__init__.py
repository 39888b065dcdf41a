"""Recognise span-link patterns in a span graph (no Django here).

>>> from tracegraph.patterns import DETECTORS
>>> list(DETECTORS)
['retry_chain', 'workflow_chain', 'fan_out_fan_in', 'batch_fan_in', 'trigger']
"""

from tracegraph.patterns import detectors as _detectors  # noqa: F401 - registers them
from tracegraph.patterns.base import (
    DETECTORS,
    DetectionContext,
    Detector,
    Finding,
    detect_patterns,
    detector,
)

__all__ = [
    "DETECTORS",
    "DetectionContext",
    "Detector",
    "Finding",
    "detect_patterns",
    "detector",
]
