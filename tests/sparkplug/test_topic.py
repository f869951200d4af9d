"""Sparkplug B topics: parse, print, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory.sparkplug.payload import SparkplugError
from smartfactory.sparkplug.topic import MessageType, SparkplugTopic, parse_state_topic, state_topic

_ID = st.text(st.characters(exclude_characters="/+#", exclude_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(group=_ID, kind=st.sampled_from(list(MessageType)), edge=_ID, device=_ID)
def test_round_trip(group: str, kind: MessageType, edge: str, device: str) -> None:
    topic = SparkplugTopic(group, kind, edge, device if kind.value.startswith("D") else None)
    assert SparkplugTopic.parse(str(topic)) == topic


def test_parse() -> None:
    topic = SparkplugTopic.parse("spBv1.0/acme/DDATA/plant1:machining:line-1/cnc-01")
    assert topic == SparkplugTopic("acme", MessageType.DDATA, "plant1:machining:line-1", "cnc-01")
    assert topic.message_type is MessageType.DDATA
    assert SparkplugTopic("g", "NDATA", "n").message_type is MessageType.NDATA


@pytest.mark.parametrize(
    "text",
    [
        "spBv1.0/g/NDATA",  # no edge node
        "spBv1.0/g/DDATA/n",  # device message without device
        "spBv1.0/g/NDATA/n/d",  # node message with a device
        "spBv1.0/g/XDATA/n",  # unknown type
        "spBv1.0//NDATA/n",  # empty group
        "spAv1.0/g/NDATA/n",  # another namespace
        "spBv1.0/STATE/host",  # a STATE topic is not an edge topic
        "spBv1.0/g/DDATA/n/d/extra",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(SparkplugError) as caught:
        SparkplugTopic.parse(text)
    assert caught.value.reason == "bad_topic"


def test_state_topic() -> None:
    assert state_topic("smartfactory") == "spBv1.0/STATE/smartfactory"
    assert parse_state_topic("spBv1.0/STATE/smartfactory") == "smartfactory"
    assert parse_state_topic("spBv1.0/g/NDATA/n") is None
    with pytest.raises(SparkplugError):
        state_topic("a/b")
