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
    learn_baseline, Baseline, CannotLearn  -> overflow-safe phase I (centre, σ, σ_MR, AR(1) φ, σ_e)
    plan_budget, AlarmBudget, SeriesGroup, design_* -> detector thresholds from a false-alarm budget
    IndividualsDetector, SubgroupDetector, CountDetector, DataQualityDetector -> Detection | None
    chart_to_dict, analysis_to_dict     -> JSON-ready dicts (the CLI's output format)
"""

from smartfactory.spc.attributes import c_chart, np_chart, p_chart, u_chart
from smartfactory.spc.baseline import Baseline, CannotLearn, CannotLearnError, Phase1, learn_baseline, learn_rate
from smartfactory.spc.capability import Capability, Interval, NormalityCheck, capability, normality, within_df
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.constants import a2, a3, b3, b4, c4, d2, d3, d3_factor, d4_factor
from smartfactory.spc.design import (
    AlarmBudget,
    CountDesign,
    DataQualityDesign,
    IndividualsDesign,
    PlantPlan,
    SeriesGroup,
    SubgroupDesign,
    data_quality_design,
    design_counts,
    design_individuals,
    design_subgroups,
    plan_budget,
    stuck_run_length,
)
from smartfactory.spc.detect import (
    CountDetector,
    DataQualityDetector,
    Detection,
    IndividualsDetector,
    Severity,
    SubgroupDetector,
)
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
    "AlarmBudget",
    "Baseline",
    "CannotLearn",
    "CannotLearnError",
    "Capability",
    "ChartPair",
    "ControlChart",
    "CountDesign",
    "CountDetector",
    "DataQualityDesign",
    "DataQualityDetector",
    "Detection",
    "IndividualsDesign",
    "IndividualsDetector",
    "Interval",
    "Limits",
    "NormalityCheck",
    "Phase1",
    "PlantPlan",
    "RuleFlags",
    "SeriesGroup",
    "SeriesMonitor",
    "Severity",
    "SpcError",
    "StreamMonitor",
    "SubgroupDesign",
    "SubgroupDetector",
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
    "data_quality_design",
    "design_counts",
    "design_individuals",
    "design_subgroups",
    "evaluate",
    "ewma",
    "imr",
    "learn_baseline",
    "learn_rate",
    "normality",
    "np_chart",
    "p_chart",
    "parse_rules",
    "plan_budget",
    "stuck_run_length",
    "u_chart",
    "within_df",
    "xbar_r",
    "xbar_s",
]
