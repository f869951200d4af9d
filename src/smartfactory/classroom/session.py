"""`smartfactory classroom start`: the class broker, one ingestion for every namespace into one store, one
simulated plant per student (under its namespace, with its own seed), and the dashboard in classroom mode.

The student is the first two levels of every series id (`lab/student-07/…`), not a database or bucket of their
own: one store, one ingestion, filtered by prefix when read.

Ingestion and every plant machine connect to the broker's session port, where the client id is the account's
username (classroom/mosquitto.py): ingestion as `sf-ingest`, each machine with a plant account of its own made
here for this run (`student-07.m1`, …), so no other account can take over or end any of their sessions.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory.classroom import passwords
from smartfactory.classroom.broker import ClassBroker, start_class_broker
from smartfactory.classroom.namespace import Namespace, relocate, relocate_series
from smartfactory.classroom.roster import Account, ClassDir, ClassInfo, Member, plant_accounts
from smartfactory.edge.broker import CLIENT_ID_PREFIX
from smartfactory.errors import ConfigError
from smartfactory.ingest.monitor import load_limits_file
from smartfactory.plant import load_plant, resolve_plant_file
from smartfactory.services import RunningIngest, RunningSimulator, dashboard_command, start_ingest, start_simulator
from smartfactory.settings import BrokerAddress, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartOptions:
    speed: float = 1.0
    sim_duration_s: float | None = None
    backfill_s: float | None = None
    dashboard: bool = True
    store: str | None = None
    students: int | None = None  # start only the first N students' plants (load tests)


@dataclass
class ClassSession:
    folder: ClassDir
    info: ClassInfo
    settings: Settings
    broker: ClassBroker | None = None
    ingest: RunningIngest | None = None
    plants: dict[str, RunningSimulator] = field(default_factory=dict)
    dashboard: subprocess.Popen[bytes] | None = None

    def plants_done(self) -> bool:
        """True when every plant ran to its end (runs with a simulated duration)."""
        return bool(self.plants) and all(p.thread is None or not p.thread.is_alive() for p in self.plants.values())

    def stop(self, say: Callable[[str], None] = log.info) -> None:
        """Stop every part, newest first: dashboard, plants, ingestion (it writes what it received), broker."""
        if self.dashboard is not None and self.dashboard.poll() is None:
            self.dashboard.terminate()
            try:
                self.dashboard.wait(5)
            except subprocess.TimeoutExpired:
                self.dashboard.kill()
                self.dashboard.wait()
        for plant in self.plants.values():
            plant.stop()
        if self.ingest is not None:
            flushed = self.ingest.stop()
            counters = self.ingest.service.counters
            say(f"[ingest]     stored {counters.stored} readings, alarms {counters.alarms}")
            if not flushed:
                say(f"[ingest]     {self.ingest.service.stop_note}")
        if self.broker is not None:
            self.broker.stop()


def _local_host(info: ClassInfo) -> str:
    """Where the parts started here reach the class broker."""
    return "127.0.0.1" if info.host in ("0.0.0.0", "") else ("::1" if info.host == "::" else info.host)


def account_url(info: ClassInfo, account: Account) -> str:
    return BrokerAddress(_local_host(info), info.port, account.username, account.password).url(masked=False)


def session_address(info: ClassInfo, account: Account) -> BrokerAddress:
    """The session port, as `account`: there the broker names the session after the account."""
    return BrokerAddress(_local_host(info), info.session_port, account.username, account.password)


def check_bound(folder: ClassDir, info: ClassInfo, ingest: Account) -> None:
    """A class folder written before client ids were bound has no session port: refuse it with what to do."""
    if not info.session_port or not ingest.client_id.startswith(CLIENT_ID_PREFIX):
        raise ConfigError(
            f"{folder.root} was written by an older smartfactory whose class broker does not bind client ids to "
            f"accounts; write it again with `smartfactory classroom init --dir {folder.root} --force` (new passwords: "
            "print the cards again)"
        )


def class_plant_accounts(settings: Settings, info: ClassInfo, students: list[Member]) -> dict[str, dict[str, Account]]:
    """student → (machine path → plant account) for the class plant under each student's namespace."""
    plant = load_plant(resolve_plant_file(info.plant, settings.sim.dir))
    out = {}
    for member in students:
        machines = relocate(plant, Namespace.parse(member.namespace)).machines
        out[member.username] = plant_accounts(member, [str(m.path) for m in machines], lambda: passwords.generate(24))
    return out


def class_limits(settings: Settings, info: ClassInfo, target: Path) -> Path | None:
    """The plant's shipped limits file (SIM__DIR/limits/PLANT.toml) repeated for every student's namespace, so
    the live monitor charts from the first reading instead of learning limits first; None without one."""
    shipped = settings.sim.dir / "limits" / f"{Path(info.plant).stem}.toml"
    if settings.spc.limits_file is not None:
        shipped = settings.spc.limits_file
    if not shipped.is_file():
        return None
    limits = load_limits_file(shipped)
    lines = [f"# Generated by `smartfactory classroom start` from {shipped}, one copy per student namespace.", ""]
    for member in info.students:
        namespace = Namespace.parse(member.namespace)
        for series, value in limits.items():
            lines += [
                f"[limits.{json.dumps(relocate_series(series, namespace))}]",
                f"center = {value.center!r}",
                f"sigma = {value.sigma!r}",
                f"nsigmas = {value.nsigmas!r}",
                "",
            ]
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


def class_settings(base: Settings, folder: ClassDir, info: ClassInfo, store: str | None, ingest_id: str) -> Settings:
    """The settings every part of the class shares: the class store and data folder, the plant, the monitor's
    limits, the class's own ingestion client id, the dashboard's address."""
    limits = class_limits(base, info, folder.limits_file)
    return base.model_copy(
        update={
            "store": store or f"sqlite:///{folder.store_file.resolve()}",
            "data_dir": folder.data_dir.resolve(),
            "ingest": base.ingest.model_copy(
                update={"client_id": ingest_id, "group": None, "mqtt_port": info.session_port or None}
            ),
            "sim": base.sim.model_copy(update={"plant": info.plant}),
            "spc": base.spc.model_copy(update={"limits_file": limits}) if limits is not None else base.spc,
            "dashboard": base.dashboard.model_copy(
                update={"host": info.host, "port": info.dashboard_port, "classroom_dir": folder.root.resolve()}
            ),
        }
    )


def _as(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"mqtt_url": url})


def start_plant(
    session: ClassSession, member: Member, account: Account, machines: dict[str, Account], options: StartOptions
) -> RunningSimulator:
    """A student's plant: each machine on the session port with its own plant account (`machines`)."""
    return start_simulator(
        _as(session.settings, account_url(session.info, account)),
        machine_addresses={path: session_address(session.info, a) for path, a in machines.items()},
        duration_s=options.sim_duration_s,
        backfill_s=options.backfill_s,
        speed=options.speed,
        seed=member.seed,
        plant=session.info.plant,
        namespace=member.namespace,
        record_truth=False,
    )


def start_class(
    folder: ClassDir, base: Settings, options: StartOptions, say: Callable[[str], None] = log.info
) -> ClassSession:
    """Start every part; on a failure, stop what already runs and re-raise."""
    info = folder.info()
    accounts = folder.accounts()
    ingest_account = folder.service("ingest")
    check_bound(folder, info, ingest_account)
    settings = class_settings(base, folder, info, options.store, ingest_account.client_id)
    students = info.students if options.students is None else info.students[: options.students]
    plants = class_plant_accounts(settings, info, students)
    folder.data_dir.mkdir(parents=True, exist_ok=True)
    session = ClassSession(folder, info, settings)
    try:
        session.broker = start_class_broker(folder, plants=[a for p in plants.values() for a in p.values()])
        say(
            f"[broker]     mosquitto on {info.host}:{info.port}, sessions bound to accounts on port "
            f"{info.session_port} (accounts and ACL from {folder.broker_dir})"
        )
        session.ingest = start_ingest(_as(settings, account_url(info, ingest_account)))
        say(f"[ingest]     every namespace → {settings.store} (as {ingest_account.username})")
        for member in students:
            machines = plants[member.username]
            session.plants[member.username] = start_plant(session, member, accounts[member.username], machines, options)
        say(f"[plants]     {len(session.plants)} plants, speed {options.speed:g}×, class seed {info.class_seed}")
        if options.dashboard:
            dash = _as(settings, account_url(info, folder.service("dashboard")))
            env = {
                **os.environ,
                "SMARTFACTORY_STORE": dash.store,
                "SMARTFACTORY_MQTT_URL": dash.mqtt_url,
                "SMARTFACTORY_SIM__PLANT": info.plant,
                "SMARTFACTORY_DASHBOARD__CLASSROOM_DIR": str(folder.root.resolve()),
            }
            command = [*dashboard_command(dash), "--client.toolbarMode", "minimal"]
            session.dashboard = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
            say(f"[dashboard]  http://{info.address}:{info.dashboard_port} (students sign in with their card)")
    except BaseException:
        session.stop(say)
        raise
    return session


__all__ = [
    "ClassSession",
    "StartOptions",
    "class_limits",
    "class_plant_accounts",
    "class_settings",
    "session_address",
    "start_class",
]
