"""Statistical process control: control charts, run rules, capability and a streaming monitor.

Pure numerics (numpy/scipy), no I/O. Formulas follow Montgomery, *Introduction to Statistical Quality
Control*, and the R package qcc 2.7 (rules: qcc 3.0); see docs/spc.md.

Public API::

    imr, xbar_r, xbar_s                 -> ChartPair (main + companion chart)
    p_chart, np_chart, c_chart, u_chart -> ControlChart
    ewma, cusum                         -> ControlChart (with .signal; CUSUM also .upper/.lower)
    evaluate, parse_rules, Zones        -> run rules WE1-WE4, N1-N8 on any statistic
    capability, normality               -> Capability, NormalityCheck
    SeriesMonitor, StreamMonitor, Limits, Violation -> streaming evaluation, one reading at a time
    chart_to_dict, analysis_to_dict     -> JSON-ready dicts (the CLI's output format)
"""

from smartfactory.spc.attributes import c_chart, np_chart, p_chart, u_chart
from smartfactory.spc.capability import Capability, Interval, NormalityCheck, capability, normality
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.constants import a2, a3, b3, b4, c4, d2, d3, d3_factor, d4_factor
from smartfactory.spc.errors import SpcError
from smartfactory.spc.report import analysis_to_dict, capability_to_dict, chart_to_dict
from smartfactory.spc.rules import (
    ALL_RULES,
    NELSON_RULES,
    RULE_DESCRIPTIONS,
    WE_RULES,
    RuleFlags,
    Zones,
    evaluate,
    parse_rules,
)
from smartfactory.spc.streaming import Limits, SeriesMonitor, StreamMonitor, Violation
from smartfactory.spc.timeweighted import cusum, ewma
from smartfactory.spc.variables import imr, xbar_r, xbar_s

__all__ = [
    "ALL_RULES",
    "NELSON_RULES",
    "RULE_DESCRIPTIONS",
    "WE_RULES",
    "Capability",
    "ChartPair",
    "ControlChart",
    "Interval",
    "Limits",
    "NormalityCheck",
    "RuleFlags",
    "SeriesMonitor",
    "SpcError",
    "StreamMonitor",
    "Violation",
    "Zones",
    "a2",
    "a3",
    "analysis_to_dict",
    "b3",
    "b4",
    "c4",
    "c_chart",
    "capability",
    "capability_to_dict",
    "chart_to_dict",
    "cusum",
    "d2",
    "d3",
    "d3_factor",
    "d4_factor",
    "evaluate",
    "ewma",
    "imr",
    "normality",
    "np_chart",
    "p_chart",
    "parse_rules",
    "u_chart",
    "xbar_r",
    "xbar_s",
]
