"""The read side: what the CLI and the dashboard read from a store, each figure computed one way.

- `oee`: OEE of a window from stored states and parts (`oee_inputs`, `oee_from_store` → `StoredOee`);
  the line id is `area/line`; machines without an ideal cycle time are left out and named, never estimated.
- `limits`: the live monitor's stored control limits (`stored_limits`, `limits_history`), and the words for
  when there are none.
- `detection`: which injected faults the SPC alarms caught (`detection_report`, `detection_from_store`).
- `plantinfo`: machine facts from the births in the store (spec limits, ideal cycle times) and the plant file's
  calendar and OEE settings (`plant_info`, `load_plant_settings`).
- `series`: series and machine ids parsed with the wire's functions, labels, grouping by line, first readings.
- `explain`, `figures`: why a control-chart point is flagged, and the one control-chart figure (plotly; import
  `smartfactory.query.figures` where a figure is drawn, it is not imported here).

Readers import this package, the core (`model`, `wire`, `plant`, `spc`, `kpi`) and the storage protocol, never
`smartfactory.sim`: plant facts come from the store, not from running the simulator's files.
"""

from smartfactory.query.detection import (
    Detection,
    DetectionReport,
    FaultEpisode,
    StoredDetection,
    detection_from_store,
    detection_report,
    fault_episodes,
)
from smartfactory.query.limits import all_stored_limits, limits_history, stored_limits
from smartfactory.query.oee import (
    NoIdealCycleError,
    NoStatesError,
    OeeInputs,
    OeeWindow,
    StoredOee,
    load_window,
    oee_from_store,
    oee_inputs,
    select_machines,
)
from smartfactory.query.plantinfo import PlantInfo, PlantSettings, SpecLimits, load_plant_settings, plant_info
from smartfactory.query.series import line_of, machines_by_line, series_label, short, split_series

__all__ = [
    "Detection",
    "DetectionReport",
    "FaultEpisode",
    "NoIdealCycleError",
    "NoStatesError",
    "OeeInputs",
    "OeeWindow",
    "PlantInfo",
    "PlantSettings",
    "SpecLimits",
    "StoredDetection",
    "StoredOee",
    "all_stored_limits",
    "detection_from_store",
    "detection_report",
    "fault_episodes",
    "limits_history",
    "line_of",
    "load_plant_settings",
    "load_window",
    "machines_by_line",
    "oee_from_store",
    "oee_inputs",
    "plant_info",
    "select_machines",
    "series_label",
    "short",
    "split_series",
    "stored_limits",
]
