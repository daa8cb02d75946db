"""The platform object: settings, the store and every subsystem, built once per server.

Handlers reach subsystems through ``ctx.platform``; nothing is global.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .settings import Settings
from .store.credentials import CredentialStore, new_access_key_id, new_secret
from .store.db import Database
from .store.leases import Leases, SoleLeases
from .store.resources import ResourceStore

log = logging.getLogger("sagestack")

#: The default key pair acts as this assumed role, so `sagemaker.get_execution_role()` works unchanged.
DEFAULT_ROLE_NAME = "SageStackExecutionRole"
DEFAULT_SESSION_NAME = "sagestack"


class Platform:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_url)
        self.db.create_schema()
        self.credentials = CredentialStore(self.db)
        self.resources = ResourceStore(self.db)
        self.default_credentials = self._ensure_default_credentials()
        self._components: dict[str, Any] = {}
        self._loops: list[tuple[str, Callable[[], Any], float]] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._shutdown_hooks: list[Callable[[], Any]] = []
        self._draining = threading.Event()
        self._drain_hooks: list[Callable[[], Any]] = []
        self._credential_cache: dict[str, dict] = {}
        self.leases = self._build_leases()
        self.gateway = None  # set by server.build_app

    def _build_leases(self) -> SoleLeases:
        """Who owns each job, endpoint and loop: this server alone, or (``--cluster``) leases in the shared
        database, renewed by a loop and all given back as the server stops (the last shutdown hook)."""
        settings = self.settings
        if not settings.cluster:
            return SoleLeases()
        leases = Leases(
            self.db,
            ttl=settings.lease_seconds,
            detail={"url": settings.endpoint_url, "pid": os.getpid(), "started_at": time.time()},
        )
        leases.renew()
        self.add_loop("leases", leases.renew, leases.renew_every)
        self.on_shutdown(leases.release_all)  # first registered: runs after every other hook
        return leases

    # -- credentials ------------------------------------------------------------------------

    def _ensure_default_credentials(self) -> dict:
        """The default account's key pair: from settings, else ``<data-dir>/credentials`` (0600)."""
        settings = self.settings
        path = settings.data_dir / "credentials"
        key_id, secret = settings.access_key_id, settings.secret_access_key
        if not (key_id and secret):
            if path.exists():
                values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
                key_id = values.get("aws_access_key_id")
                secret = values.get("aws_secret_access_key")
            if not (key_id and secret):
                key_id, secret = new_access_key_id(), new_secret()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(f"aws_access_key_id={key_id}\naws_secret_access_key={secret}\n")
        principal = (
            f"arn:aws:sts::{settings.account_id}:assumed-role/{DEFAULT_ROLE_NAME}/{DEFAULT_SESSION_NAME}"
        )
        return self.credentials.put(key_id, secret, settings.account_id, principal)

    def lookup_credentials(self, access_key_id: str) -> dict | None:
        """Credentials by key id; cached in memory (rows never change once written)."""
        cached = self._credential_cache.get(access_key_id)
        if cached is not None:
            return cached
        row = self.credentials.get(access_key_id)
        if row is not None:
            if len(self._credential_cache) > 10000:
                self._credential_cache.clear()
            self._credential_cache[access_key_id] = row
        return row

    # -- subsystems -------------------------------------------------------------------------

    def component(self, name: str, factory: Callable[[Platform], Any]) -> Any:
        """A subsystem built on first use (object store, executor, serving controller, …)."""
        existing = self._components.get(name)
        if existing is None:
            existing = self._components.setdefault(name, factory(self))
        return existing

    def get_component(self, name: str) -> Any:
        """A subsystem if it was built, else None (never builds it)."""
        return self._components.get(name)

    def add_loop(self, name: str, step: Callable[[], Any], interval: float) -> None:
        """Run ``step`` every ``interval`` seconds on its own thread until shutdown; errors are logged
        and never stop the loop."""
        self._loops.append((name, step, interval))
        if self._threads:  # already started
            self._start_loop(name, step, interval)

    def on_shutdown(self, hook: Callable[[], Any]) -> None:
        self._shutdown_hooks.append(hook)

    def on_drain(self, hook: Callable[[], Any]) -> None:
        """``hook`` runs as soon as a stop is asked for, while requests in flight still finish (the HTTP
        server waits for them): end what would hold a request open (long polls, function runs)."""
        self._drain_hooks.append(hook)

    @property
    def draining(self) -> bool:
        """A stop was asked for: requests that wait (long polls) answer now."""
        return self._draining.is_set()

    def drain(self) -> None:
        if self._draining.is_set():
            return
        self._draining.set()
        for hook in list(self._drain_hooks):
            try:
                hook()
            except Exception:
                log.exception("drain hook failed")

    def start(self) -> None:
        """Run the loops registered so far (the server registers them first: ``startup.py``)."""
        for name, step, interval in self._loops:
            self._start_loop(name, step, interval)

    def _start_loop(self, name: str, step: Callable[[], Any], interval: float) -> None:
        def run() -> None:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    step()
                except Exception:  # one failing pass never stops the loop
                    log.exception("loop %s failed", name)
                self._stopping.wait(max(0.0, interval - (time.monotonic() - started)))

        thread = threading.Thread(target=run, name=f"loop-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self.drain()
        self._stopping.set()
        for hook in reversed(self._shutdown_hooks):
            try:
                hook()
            except Exception:
                log.exception("shutdown hook failed")
        for thread in self._threads:
            thread.join(timeout=5)
        self.db.dispose()
