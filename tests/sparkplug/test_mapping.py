"""The mapping between Sparkplug ids and ISA-95 machine paths, both directions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory.sparkplug.mapping import (
    SparkplugMapping,
    is_control_metric,
    machine_path_to_sparkplug,
    metric_to_sensor,
    sparkplug_to_machine_path,
)
from smartfactory.sparkplug.payload import SparkplugError
from smartfactory.sparkplug.topic import MessageType, SparkplugTopic
from smartfactory.wire import MachinePath

_LEVEL = st.text(
    st.characters(exclude_characters="/+#", exclude_categories=("Cc", "Cs")) | st.sampled_from(":%"),
    min_size=1,
    max_size=12,
)


@st.composite
def paths(draw: st.DrawFn) -> MachinePath:
    enterprise = draw(_LEVEL.filter(lambda s: not s.startswith("$")))
    return MachinePath(enterprise, draw(_LEVEL), draw(_LEVEL), draw(_LEVEL), draw(_LEVEL))


@settings(max_examples=100, deadline=None)
@given(path=paths(), group_levels=st.integers(1, 3))
def test_both_directions_agree(path: MachinePath, group_levels: int) -> None:
    mapping = SparkplugMapping(group_levels=group_levels)
    group, edge, device = machine_path_to_sparkplug(path, mapping)
    SparkplugTopic(group, MessageType.DDATA, edge, device)  # valid Sparkplug ids
    assert sparkplug_to_machine_path(group, edge, device, mapping) == path


def test_default_mapping() -> None:
    path = MachinePath("acme", "plant1", "machining", "line-1", "cnc-01")
    assert machine_path_to_sparkplug(path) == ("acme", "plant1:machining:line-1", "cnc-01")
    two = SparkplugMapping(group_levels=2)
    assert machine_path_to_sparkplug(path, two) == ("acme:plant1", "machining:line-1", "cnc-01")
    escaped = MachinePath("acme", "a:b", "100%", "l", "m")
    assert machine_path_to_sparkplug(escaped)[1] == "a%3Ab:100%25:l"


def test_foreign_ids_keep_group_and_edge_node() -> None:
    assert str(sparkplug_to_machine_path("factory", "node1", "press")) == "factory/_/_/node1/press"
    assert str(sparkplug_to_machine_path("factory", "node1", None)) == "factory/_/_/node1/_node"
    assert str(sparkplug_to_machine_path("f", "a:b:c:d", "m")) == "f/_/_/a:b:c:d/m"  # too many parts: kept whole


def test_ids_that_are_no_levels_are_refused() -> None:
    with pytest.raises(SparkplugError) as caught:
        sparkplug_to_machine_path("$SYS", "node1", "press")
    assert caught.value.reason == "bad_topic"
    with pytest.raises(SparkplugError):
        sparkplug_to_machine_path("g", "n", "x" * 101)


def test_metric_names() -> None:
    assert metric_to_sensor("spindle_temp") == "spindle_temp"
    assert metric_to_sensor("Inputs/Temperature") == "Inputs.Temperature"
    assert is_control_metric("bdSeq")
    assert is_control_metric("Node Control/Rebirth")
    assert is_control_metric("Properties/Hardware Make")
    assert not is_control_metric("spindle_temp")
