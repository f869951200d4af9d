"""Copy one store into another through the `Storage` protocol, optionally without the ground-truth fault events
(an exercise that asks for the fault must not hand the answer over in its data)."""

from __future__ import annotations

from smartfactory.storage import open_store


def copy_store(source_url: str, target_url: str, *, events: bool = True) -> int:
    """Copy readings, states, parts, alarms, limits versions and machine facts (and events unless told not to);
    return the number of readings copied."""
    source = open_store(source_url)
    target = open_store(target_url)
    try:
        copied = 0
        for chunk in source.iter_readings():
            copied += target.write_readings(chunk)
        target.write_states(source.read_states())
        target.write_parts(source.read_parts())
        target.write_limits(source.read_limits(latest_only=False))
        target.write_alarms(source.read_alarms())
        for machine, info in source.read_machine_info().items():
            target.write_machine_info(machine, 0, info)
        if events:
            target.write_events(source.read_events())
        return copied
    finally:
        source.close()
        target.close()
