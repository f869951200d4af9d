"""Streaming detectors per signal kind, designed to an alarm budget (see docs/spc.md, "Detectors").

    IndividualsDetector   process signals and slow parts: shock, mean CUSUM, z² variance CUSUM (AR(1) residuals)
    SubgroupDetector      fast parts: X̄, S, CUSUM of subgroup means, per-part shock
    CountDetector         counts: c chart with exact Poisson limits
    DataQualityDetector   stuck, silent, dropout (alarm class "data_quality")

Each has ``update(ts_ms, value) -> Detection | None`` and ``reset()``; the data-quality one also ``tick(now_ms)``.
Thresholds come from :mod:`smartfactory.spc.design`, baselines from :mod:`smartfactory.spc.baseline`.
"""

from smartfactory.spc.detect.base import DATA_QUALITY, SPC, Detection, Detector, Severity
from smartfactory.spc.detect.counts import CountDetector
from smartfactory.spc.detect.individuals import PHI_MATERIAL, IndividualsDetector
from smartfactory.spc.detect.quality import DataQualityDetector
from smartfactory.spc.detect.subgroups import SubgroupDetector

__all__ = [
    "DATA_QUALITY",
    "PHI_MATERIAL",
    "SPC",
    "CountDetector",
    "DataQualityDetector",
    "Detection",
    "Detector",
    "IndividualsDetector",
    "Severity",
    "SubgroupDetector",
]
