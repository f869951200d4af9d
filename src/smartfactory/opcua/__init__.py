"""OPC UA, the plant's other language: a server per simulated plant and a bridge from any OPC UA server to MQTT.

`server.py` serves every machine of the simulator's wire v1 messages as an OPC UA object (`simulate
--opcua-endpoint`); `bridge.py` subscribes to an OPC UA server and publishes wire v1 (`bridge opcua`);
`nodemap.py` says which node is which signal; `security.py` the anonymous, user and Basic256Sha256 options.
This package is the one door to `asyncua` (tests/test_house.py): it imports no part of the simulator.
"""
