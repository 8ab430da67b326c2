"""Store mode's data plane: every worker follows the store (ADMIN-API §4).

At boot a worker reads a whole snapshot of the store and compiles every
tenant. Then, in a thread of its own (started in each worker process, never
before a fork), it checks the store's change sequence every
``poll_interval``; when it moved, it reads only the tenants that changed,
validates and compiles only those, and swaps the app's site in one reference:
a request sees a tenant's whole old version or its whole new version. The
request path never queries the store.

A tenant the store holds but websvc refuses (say, a plugin that no longer
imports) is logged and left out (at boot) or kept at its last good version
(after an edit). The store unreachable: keep serving, log once per outage,
retry with backoff; when it is back, resynchronise.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from websvc.config import ConfigError, load_config, parse_toml
from websvc.logutil import safe
from websvc.registry import Compiler, assemble, indexes
from websvc.site import Identity
from websvc.store import Snapshot, StoreError, TenantState, open_store

if TYPE_CHECKING:
    from websvc.config import Config, TenantConfig
    from websvc.site import Site, Tenant
    from websvc.store import Store

log = logging.getLogger("websvc")

#: The longest wait between two tries while the store is unreachable.
MAX_BACKOFF = 5.0


class Follower:
    """Keeps one app's site equal to the store (see the module docstring).

    *base* is the site of the file config alone (no tenants); *publish* is
    called with each new site (the app's one-reference swap).
    """

    def __init__(
        self,
        base: Site,
        compiler: Compiler,
        publish: Any,
        *,
        store: Store | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        settings = base.config.store
        assert settings is not None
        self.base = base
        self.compiler = compiler
        self.publish = publish
        self.store = store if store is not None else open_store(settings.url)
        self.interval = float(settings.poll_interval)
        self.snapshot_path = settings.snapshot_path
        self.listen = settings.listen
        self.raw = raw if raw is not None else _raw_tables(base.config)
        self.seq = 0
        self.tenants: dict[str, Tenant] = {}
        self.states: dict[str, TenantState] = {}  # what the store holds (for snapshot_path)
        self.reachable = True
        self.last_ok = time.monotonic()
        self._pid = 0
        self._stop = threading.Event()

    # -- reading the store ---------------------------------------------------

    def load(self) -> Site:
        """The site of the whole store now (boot, or a resync)."""
        try:
            snapshot = self.store.snapshot()
        except StoreError as exc:
            snapshot = self._kept_snapshot(exc)
        return self._install(snapshot)

    def _install(self, snapshot: Snapshot) -> Site:
        """A new site of every tenant of *snapshot*, compiled."""
        self.tenants = self._compile_all(snapshot.tenants)
        self.states = dict(snapshot.tenants)
        self.seq = snapshot.seq
        self.last_ok = time.monotonic()
        self._keep()
        # From now on these maps are kept current in place, tenant by tenant:
        # an edit costs what the edited tenant costs, whatever the number of
        # tenants, and a request sees each tenant whole, old or new.
        self._users, self._hosts, self._host_ids = indexes(self.tenants)
        self._site_now = assemble(
            self.base.config,
            self.tenants,
            self.compiler.hooks,
            self.base.router,
            version=self.seq,
            maps=(self._users, self._hosts, self._host_ids),
        )
        return self._site_now

    def poll(self, seq: int | None = None) -> bool:
        """Apply what changed since the last look; True when the site changed.

        *seq* is the store's change seq if just read (by ``watch``); None: read it now.
        """
        if seq is None:
            seq = self.store.change_seq()
        if self._reached():  # back after an outage: resynchronised from a newer read
            return True
        if seq == self.seq:
            return False
        if seq < self.seq:  # the store went backwards (restored): read it all again
            log.warning("store change sequence went back from %d to %d: resync", self.seq, seq)
            self.publish(self.load())
            return True
        delta = self.store.delta(self.seq)
        changed: dict[str, Tenant | None] = {}
        for name, state in delta.tenants.items():
            if state is None:
                changed[name] = None
                continue
            tenant = self._compile_one(state)
            if tenant is not None:
                changed[name] = tenant
        for name, tenant in changed.items():
            self._replace(name, tenant)
            state = delta.tenants[name]
            if state is None:
                self.states.pop(name, None)
            else:
                self.states[name] = state
        self.seq = delta.seq
        self.publish(self._site())
        self._keep()
        return True

    # -- the thread ----------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the polling thread in this process, once (called after any fork)."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name="websvc-store-follower", daemon=True)
        thread.start()

    def stop(self) -> None:
        self._stop.set()

    def after_fork(self) -> None:
        """In a new worker: catch up with the store now, then follow it.

        The site was inherited from the master, which may have read the store
        long ago (a worker replaced hours later); one look brings it current
        before the worker serves anything.
        """
        self._pid = 0  # the parent's thread did not survive the fork
        try:
            self.poll()
        except StoreError as exc:
            self._newer_kept_snapshot(exc)  # first: the outage line names what is served
            self._unreachable(exc)
        self.ensure_started()

    def _newer_kept_snapshot(self, exc: StoreError) -> None:
        """Store down in a new worker: the snapshot file, when it is newer than what it has.

        The master read the store when it started; the other workers kept
        newer tenants in ``snapshot_path`` since.
        """
        if not self.snapshot_path:
            return
        try:
            snapshot = self._kept_snapshot(exc)
        except ConfigError:
            return
        if snapshot.seq > self.seq:
            self._install(snapshot)
            self.publish(self._site_now)

    def _run(self) -> None:
        """Poll every ``poll_interval``; with notifications (PostgreSQL's LISTEN),
        poll as soon as one arrives, the interval being the safety net.

        This thread shares the GIL with the requests: each wake-up takes it
        from them. PostgreSQL's ``watch`` waits and reads the change seq on a
        connection of its own in two calls that block with the GIL released
        (a ``poll()`` of its socket, one ``PQexec``), so a quiet interval costs
        two wake-ups and a few lines of Python (bench/fleet.py measures it).
        """
        wait = self.interval
        watch = getattr(self.store, "watch", None)  # PostgreSQL
        listen = getattr(self.store, "wait_for_change", None) if self.listen else None
        while not self._stop.is_set():
            try:
                seq = None
                steady = self.reachable and wait == self.interval
                if watch is not None and steady:
                    seq = watch(wait, listen=self.listen)  # early at a notification
                elif listen is not None and steady:
                    listen(wait)  # returns at a notification, or after *wait*
                elif self._stop.wait(wait):
                    return
                if self._stop.is_set():
                    return
                self.poll(seq)
                wait = self.interval
            except StoreError as exc:  # retried with backoff, logged once per outage
                self._unreachable(exc)
                wait = min(max(wait * 2, self.interval * 2), MAX_BACKOFF)
            except Exception:  # never let the follower die: log and keep going
                log.exception("store follower: unexpected error")
                wait = min(max(wait * 2, self.interval * 2), MAX_BACKOFF)

    def staleness(self) -> float:
        """Seconds since the store was last reached (0 while it answers)."""
        return 0.0 if self.reachable else time.monotonic() - self.last_ok

    # -- private ------------------------------------------------------------

    def _replace(self, name: str, tenant: Tenant | None) -> None:
        """Put *tenant* (None: nothing) in place of *name*'s old version, in every map."""
        old = self.tenants.get(name)
        if old is not None:
            for user in old.config.users:
                self._users.pop(user.name, None)
            for host in old.config.hosts:
                self._hosts.pop(host, None)
                self._host_ids.pop(host, None)
        if tenant is None:
            self.tenants.pop(name, None)
            return
        for user in tenant.config.users:
            self._users[user.name] = (tenant, user)
        for host in tenant.config.hosts:
            self._hosts[host] = tenant
            self._host_ids[host] = Identity(tenant, "host")
        self.tenants[name] = tenant

    def _site(self) -> Site:
        """The current site: the same (updated) maps, the new change number."""
        only = next(iter(self.tenants.values())) if len(self.tenants) == 1 else None
        self._site_now = replace(
            self._site_now,
            only=only,
            only_identity=Identity(only, "only") if only is not None else None,
            version=self.seq,
        )
        return self._site_now

    def _compile_all(self, states: dict[str, TenantState]) -> dict[str, Tenant]:
        """Every tenant: validated in one go (the fast way), tenant by tenant if that fails."""
        try:
            config = self._validate(states)
        except ConfigError:
            tenants: dict[str, Tenant] = {}
            for state in states.values():
                tenant = self._compile_one(state)
                if tenant is not None:
                    tenants[state.name] = tenant
            return tenants
        return {t.name: self._compiled(config, t) for t in config.tenants}

    def _compile_one(self, state: TenantState) -> Tenant | None:
        try:
            config = self._validate({state.name: state})
        except ConfigError as exc:
            log.error(
                "store: tenant %s version %d refused, keeping what it had: %s",
                safe(state.name),
                state.version,
                safe("; ".join(exc.problems), 4000),
            )
            return None
        return self._compiled(config, config.tenants[0])

    def _validate(self, states: dict[str, TenantState]) -> Config:
        tenants = {name: _tenant_table(state) for name, state in states.items()}
        return load_config(
            {**self.raw, "tenants": tenants},
            authentication_names=self.compiler.authentication_names,
        )

    def _compiled(self, config: Config, tconf: TenantConfig) -> Tenant:
        tenant, why = self.compiler.tenant(config, tconf)
        if why is not None:
            log.error("store: tenant %s: %s", safe(tconf.name), safe(why, 2000))
        return tenant

    def _reached(self) -> bool:
        """The store answered: after an outage, resynchronise (True)."""
        if self.reachable:
            self.last_ok = time.monotonic()
            return False
        log.warning("store reachable again after %.1f s: resync", self.staleness())
        self.reachable = True
        self.publish(self.load())
        self.last_ok = time.monotonic()
        return True

    def _unreachable(self, exc: StoreError) -> None:
        if self.reachable:  # once per outage, not per attempt
            log.error(
                "store unreachable, still serving config version %d: %s",
                self.seq,
                safe(str(exc), 500),
            )
            self.reachable = False

    def _kept_snapshot(self, exc: StoreError) -> Snapshot:
        """At boot with the store down: the snapshot file, if there is one."""
        path = self.snapshot_path
        if not path:
            raise ConfigError([f"{self.base.config.source}: store: {exc}"]) from None
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            tenants = {
                name: TenantState(
                    name=name,
                    version=int(t["version"]),
                    hosts=tuple(t["hosts"]),
                    users=tuple(t["users"]),
                    plugins=tuple(t["plugins"]),
                    rules=tuple(t["rules"]),
                )
                for name, t in data["tenants"].items()
            }
            snapshot = Snapshot(seq=int(data["seq"]), tenants=tenants)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(
                [f"{self.base.config.source}: store: {exc}; snapshot_path {path}: {err}"]
            ) from None
        log.error(
            "store unreachable at boot (%s): serving the snapshot %s (config version %d)",
            safe(str(exc), 500),
            path,
            snapshot.seq,
        )
        self.reachable = False
        return snapshot

    def _keep(self) -> None:
        """Write what the store holds to ``snapshot_path`` (atomically), when set."""
        path = self.snapshot_path
        if not path:
            return
        tenants = {name: _state_dict(state) for name, state in self.states.items()}
        try:
            folder = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".websvc-snapshot-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"seq": self.seq, "tenants": tenants}, fh)
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot write snapshot_path %s: %s", path, exc)


def _raw_tables(config: Config) -> dict[str, Any]:
    """The file's ``[server]`` and ``[cors]`` tables, to validate tenants against."""
    raw = parse_toml(config.source, config.text) if config.text is not None else {}
    return {key: raw[key] for key in ("server", "cors") if key in raw}


def _tenant_table(state: TenantState) -> dict[str, Any]:
    return {
        "hosts": list(state.hosts),
        "users": [dict(user) for user in state.users],
        "plugins": list(state.plugins),
        "cors": [dict(rule) for rule in state.rules],
    }


def _state_dict(state: TenantState) -> dict[str, Any]:
    return {
        "version": state.version,
        "hosts": list(state.hosts),
        "users": [dict(user) for user in state.users],
        "plugins": list(state.plugins),
        "rules": [dict(rule) for rule in state.rules],
    }
