"""``--scheduler tcp://HOST:PORT``: the commands that train many networks, on Dask.

``scheduler_option`` adds the option; ``connect`` opens a ``dask.distributed.Client``
to that scheduler (or yields None without it, for a local run) and closes it after.
Dask is imported only when the option is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from retroprop.i18n import _

F = TypeVar("F", bound=Callable[..., Any])

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the scheduler (and a first worker) before giving up."""


def scheduler_option(f: F) -> F:
    """``--scheduler ADDRESS``: train on that Dask cluster's workers."""
    return click.option(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="Train on this Dask scheduler's workers (started with `dask "
        "scheduler` and `dask worker`), in blocks of seeds; the numbers are the "
        "same as a local run. Needs `pip install 'retroprop[dask]'`.",
    )(f)


@contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    """A ``dask.distributed.Client`` on ``scheduler`` (None: yields None)."""
    from retroprop.errors import ConfigError

    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            _(
                "--scheduler needs Dask's distributed scheduler: pip install "
                "'retroprop[dask]' (or drop --scheduler to train here)"
            )
        ) from None
    fix = _(
        "start one with `dask scheduler` and give the address it prints, like "
        "tcp://10.0.0.5:8786"
    )
    _check_reachable(scheduler, fix)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise ConfigError(
            _(
                "--scheduler: cannot reach a Dask scheduler at {scheduler!r} ({why}); "
                "{fix}"
            ).format(
                scheduler=scheduler,
                why=" ".join(str(e).split()) or type(e).__name__,
                fix=fix,
            )
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise ConfigError(
                _(
                    "--scheduler: the Dask scheduler at {scheduler} has no workers; start "
                    "some with `dask worker {scheduler}`"
                ).format(scheduler=scheduler)
            ) from None
        yield client
    finally:
        client.close()


def _check_reachable(scheduler: str, fix: str) -> None:
    """A TCP address nobody listens on fails at once, not after Dask's retries."""
    import socket

    from distributed.comm import parse_address, parse_host_port

    from retroprop.errors import ConfigError

    try:
        scheme, location = parse_address(scheduler)
        if scheme not in ("tcp", "tls"):
            return  # other transports (inproc, ucx) are Dask's to check
        host, port = parse_host_port(location, default_port=8786)
    except (ValueError, TypeError):
        raise ConfigError(
            _(
                "--scheduler: {scheduler!r} is not an address like tcp://HOST:PORT; {fix}"
            ).format(scheduler=scheduler, fix=fix)
        ) from None
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise ConfigError(
            _(
                "--scheduler: cannot reach a Dask scheduler at {scheduler!r} ({why}); "
                "{fix}"
            ).format(scheduler=scheduler, why=e.strerror or type(e).__name__, fix=fix)
        ) from None
