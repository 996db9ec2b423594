"""Rate-limit storage that is safe under gunicorn's threaded workers.

`limits`' in-memory storage restarts its expiry timer from whichever request thread notices
it stopped, without a lock: two threads can race, and one of them then fails with
"threads can only be started once", which Flask-Limiter turns into a 500. Its timer also
reads keys that a request thread may remove at the same moment (KeyError in the timer
thread). Under load it also starts a new thread every 10 ms or so, each one paid for by a
request. This subclass starts no thread: at most once a second, the request thread that
counts a hit sweeps the expired keys itself (under a lock no other thread waits for), and it
expires keys tolerantly. The sweep only bounds memory: a counter is always checked against
its own expiry when it is read.
`create_app` uses it for `memory://` (our default) when served otherwise; `portal serve`
gives its workers counters they share (`shared_limits`), and deployments with several app
servers set `RATELIMIT_STORAGE_URI` to a shared store.
"""

from __future__ import annotations

import bisect
import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, current_app, request
from flask.globals import request_ctx
from flask_limiter import ExemptionScope, Limiter, RequestLimit, RouteLimit
from flask_limiter._limits import RuntimeLimit
from limits.storage import MemoryStorage

from portal.web import shared_limits  # noqa: F401  (registers the portal-shared:// scheme)

SCHEME = "portal-memory"
# The methods of the requests a limit of the portal may apply to.
LIMITED_METHODS = frozenset({"POST"})
# Seconds between two sweeps of the expired keys.
SWEEP_INTERVAL = 1.0
# Where each app keeps the limits of its views (`PortalLimiter`).
_LIMITS_CACHE = "portal.rate_limits"
_EXEMPTIONS_CACHE = "portal.rate_limit_exemptions"


class ThreadSafeMemoryStorage(MemoryStorage):
    """`memory://`, swept by the request threads instead of a timer thread."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # The names MemoryStorage's own methods call (Python mangles `__schedule_expiry`).
    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_INTERVAL
                self._MemoryStorage__expire_events()
        finally:
            self._sweep_lock.release()

    def _MemoryStorage__expire_events(self) -> None:  # noqa: N802
        now = time.time()
        for key in list(self.events):
            with self.locks[key]:
                events = self.events.get(key)
                if events:
                    oldest = bisect.bisect_left(events, -now, key=lambda event: -event.expiry)
                    self.events[key] = events[:oldest]
                if not self.events.get(key):
                    self.locks.pop(key, None)
        for key in list(self.expirations):
            expiry = self.expirations.get(key)
            if expiry is not None and expiry <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def storage_uri(configured: str) -> str:
    """The storage URI to give Flask-Limiter: ours in place of `memory://`."""
    if configured.startswith("memory://"):
        return SCHEME + configured.removeprefix("memory")
    return configured


def counts_in_each_process(config: Mapping[str, Any]) -> bool:
    """Whether the limits are counted in each process (`memory://`, fixed window): a server of
    several worker processes then gives them shared counters instead (`shared_limits`)."""
    uri = str(config["RATELIMIT_STORAGE_URI"])
    strategy = config.get("RATELIMIT_STRATEGY", "fixed-window")
    return uri.startswith(("memory://", SCHEME + "://")) and strategy == "fixed-window"


class PortalLimiter(Limiter):
    """Flask-Limiter, doing nothing on the requests that no limit of the portal concerns,
    and working out which limits and exemptions a view has once per app rather than on every
    request.

    Every limit of the portal is on POSTs (`LIMITED_METHODS`: the submissions, the follow-up
    messages, the forms' posts and the staff sign-in; `limit` refuses any other). Flask-Limiter
    resolves the limits of every request, GETs included, and adds its headers after each;
    here a request with another method skips the check, and the hooks that run after it find
    no limiter state and do nothing, so its answer is the same as before (no limit applied,
    no headers). Limits for every request (`RATELIMIT_DEFAULT`, `RATELIMIT_APPLICATION`,
    `RATELIMIT_META`) turn the shortcut off.
    """

    _every_request = False

    def init_app(self, app: Flask) -> None:
        # Flask runs `after_request` hooks last registered first: these two surround the one
        # that adds Flask-Limiter's headers.
        app.after_request(_retry_after_on_refusals_only)
        super().init_app(app)
        app.after_request(_remember_retry_after)
        manager = self.limit_manager
        self._every_request = bool(
            manager._application_limits or manager._default_limits or self._meta_limits
        )
        if not isinstance(manager.exemption_scope, functools.partial):  # once per limiter
            manager.exemption_scope = functools.partial(  # type: ignore[method-assign]
                _exemption_scope_per_app, manager.exemption_scope
            )

    def limit(  # type: ignore[override]
        self, limit_value: str | Callable[[], str], *, methods: list[str], **options: Any
    ) -> RouteLimit:
        if not methods or not {method.upper() for method in methods} <= LIMITED_METHODS:
            raise ValueError(f"a limit applies to {sorted(LIMITED_METHODS)} only")
        return super().limit(limit_value, methods=methods, **options)

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if request.method not in LIMITED_METHODS and not self._every_request:
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def _Limiter__filter_limits(  # noqa: N802
        self,
        endpoint: str | None,
        blueprint: str | None,
        callable_name: str | None,
        in_middleware: bool = False,
    ) -> list[RuntimeLimit]:
        """The limits of a view, worked out once per app and view rather than per request.

        Which limits apply to a view depends only on how the app was set up, since every
        limit of the portal is per view (no default, application or meta limit) and reads its
        value from the configuration; the keys are still taken per request when the limits are
        evaluated. Flask-Limiter's own resolution costs more than the counting itself; while
        the storage is down (its in-memory fallback), it decides as before.
        """
        uncached = Limiter._Limiter__filter_limits  # type: ignore[attr-defined]
        if self._every_request or self._storage_dead:
            return uncached(self, endpoint, blueprint, callable_name, in_middleware)  # type: ignore[no-any-return]
        cache: dict[tuple[Any, ...], list[RuntimeLimit]] = current_app.extensions.setdefault(
            _LIMITS_CACHE, {}
        )
        key = (endpoint, blueprint, callable_name, in_middleware)
        limits = cache.get(key)
        if limits is None:
            limits = uncached(self, endpoint, blueprint, callable_name, in_middleware)
            cache[key] = limits
        return list(limits)

    @property
    def current_limit(self) -> RequestLimit | None:
        return super().current_limit if _checked() else None

    def _Limiter__check_conditional_deductions(self, response: Response) -> None:  # noqa: N802
        if _checked():
            Limiter._Limiter__check_conditional_deductions(self, response)  # type: ignore[attr-defined]

    def _Limiter__release_context(self, _: BaseException | None = None) -> None:  # noqa: N802
        if _checked():
            self.context.reset()


def _exemption_scope_per_app(
    uncached: Callable[[Flask, str | None, str | None], ExemptionScope],
    app: Flask,
    endpoint: str | None,
    blueprint: str | None,
) -> ExemptionScope:
    """A view's exemptions, worked out once per app and view, as its limits are: they too
    depend only on how the app was set up, and Flask-Limiter looked them up on every request
    (2% of a submission's time)."""
    cache: dict[tuple[str | None, str | None], ExemptionScope] = app.extensions.setdefault(
        _EXEMPTIONS_CACHE, {}
    )
    scope = cache.get((endpoint, blueprint))
    if scope is None:
        scope = cache[(endpoint, blueprint)] = uncached(app, endpoint, blueprint)
    return scope


def _remember_retry_after(response: Response) -> Response:
    """Keep the answer's own `Retry-After` (or its absence) before Flask-Limiter's hook."""
    response.portal_own_retry_after = response.headers.get("Retry-After")  # type: ignore[attr-defined]
    return response


def _retry_after_on_refusals_only(response: Response) -> Response:
    """`Retry-After` on a refusal (429) only. Flask-Limiter sets it on every answer under a
    limit: a receipt (201) told its client when to try again, and the 503 of a restarting
    writer had its own `Retry-After: 1` raised to the end of the limit's window. Any other
    answer gets back what it had before Flask-Limiter's hook."""
    if response.status_code == 429 or not hasattr(response, "portal_own_retry_after"):
        return response
    own = response.portal_own_retry_after
    if own is None:
        response.headers.pop("Retry-After", None)
    else:
        response.headers["Retry-After"] = own
    return response


def _checked() -> bool:
    """Whether the limiter looked at this request (it keeps its state on the request context)."""
    return hasattr(request_ctx, "_limiter_request_context")
