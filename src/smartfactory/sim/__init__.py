"""Simulators: the `Machine` base class students extend, signal helpers, the loader and the runner."""

from smartfactory.sim.machine import Machine, Sensor

__all__ = ["Machine", "Sensor"]
