"""Where a command's configuration comes from: flags, then environment, then manifest.

:func:`resolve_config` is the one place that decides it. It is pure: the environment
is passed in as a mapping and the manifest already loaded, so a test states its
inputs and reads the answer. Commands and :class:`~hexbatch.batch.BatchOptions` call
:func:`config_for`, which brings the process's environment and the manifest's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hexbatch.state.leases import DEFAULT_TTL_S
from hexbatch.state.location import STATE_ENV, Location, resolve_location

if TYPE_CHECKING:  # the manifest package imports this module: no import back at run time
    from hexbatch.manifest.model import Limits, Manifest

DEFAULT_BASE_URL: Final = "https://app.hex.tech/api/v1"
DEFAULT_TOKEN_ENV: Final = "HEX_API_TOKEN"  # noqa: S105 - a variable name, not a secret
BASE_URL_ENV: Final = "HEX_API_BASE_URL"
DEFAULT_STATE: Final = Path(".hexbatch") / "state.db"
DEFAULT_PRIORITY: Final = "normal"


@dataclass(frozen=True, slots=True)
class Flags:
    """What the command line (or a library caller) chose; None leaves it to the others."""

    base_url: str | None = None
    token_env: str | None = None
    state: Path | str | None = None
    max_in_flight: int | None = None
    lease_ttl: float | None = None
    priority: str | None = None
    simulate: bool = False
    keeps_state: bool = True
    """False where no state store is used: a stateless batch, a dry run, a command that
    only talks to Hex."""
    allow_insecure_http: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """A command's configuration, every source applied."""

    base_url: str
    """The Hex API the requests go to (the simulator's own URL replaces it under
    ``simulate``)."""
    token_env: str
    """The environment variable that holds the Hex API token."""
    token_present: bool
    """Whether that variable holds a token (the token itself is never kept here)."""
    state: Location | None
    """The state store, or None to keep no state."""
    max_in_flight: int | None
    """Runs alive at once (None: no manifest says)."""
    lease_ttl_s: float
    priority: str
    limits: Limits | None
    """The manifest's request and trigger budgets (None without a manifest)."""
    simulate: bool
    allow_insecure_http: bool


def resolve_config(
    flags: Flags,
    env: Mapping[str, str],
    manifest: Manifest | None = None,
    *,
    folder: Path | None = None,
) -> Config:
    """The configuration ``flags``, ``env`` and ``manifest`` give; reads nothing else (but
    ``~`` in a state path, expanded as a shell would).

    Precedence, for every setting: flags > environment > manifest > defaults. A loaded
    manifest's ``base_url`` already follows it for the environment it was loaded with
    (:func:`manifest_base_url`).

    * base URL: ``--base-url`` > ``HEX_API_BASE_URL`` > the manifest's ``hex.base_url``
      > Hex's own API.
    * token variable: ``--token-env`` > the manifest's ``hex.token_env`` > ``HEX_API_TOKEN``.
    * state store: none for a batch that keeps no state, nor for a simulated one without
      ``--state``; else ``--state`` > ``HEXBATCH_STATE`` > the manifest's ``state:``
      (relative to ``folder``, the manifest's folder) > ``.hexbatch/state.db`` in
      ``folder``; none without a manifest.
    * runs in flight, lease TTL, priority: the flag > the manifest > the default.
    * limits: the manifest's (which has merged in the defaults).
    * simulate, plain http to a remote host: flags only.
    """
    token_env = flags.token_env or (manifest.token_env if manifest else None) or DEFAULT_TOKEN_ENV
    return Config(
        base_url=_base_url(flags.base_url, env, manifest.base_url if manifest else None),
        token_env=token_env,
        token_present=bool(env.get(token_env, "").strip()),
        state=_state(flags, env, manifest, folder),
        max_in_flight=flags.max_in_flight or (manifest.max_in_flight if manifest else None),
        lease_ttl_s=flags.lease_ttl or (manifest.lease_ttl if manifest else None) or DEFAULT_TTL_S,
        priority=flags.priority or (manifest.priority if manifest else None) or DEFAULT_PRIORITY,
        limits=manifest.limits if manifest else None,
        simulate=flags.simulate,
        allow_insecure_http=flags.allow_insecure_http,
    )


def config_for(
    flags: Flags, manifest: Manifest | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """:func:`resolve_config` with the process's environment (unless ``env`` is given) and
    the manifest's folder."""
    folder = manifest.source.resolve().parent if manifest is not None else None
    return resolve_config(flags, os.environ if env is None else env, manifest, folder=folder)


def manifest_base_url(written: str | None, env: Mapping[str, str]) -> str:
    """A manifest's base URL: ``HEX_API_BASE_URL`` > its ``hex.base_url`` > Hex's API.

    :func:`~hexbatch.manifest.load_manifest` keeps it as ``Manifest.base_url``; the same
    rule as :func:`resolve_config`'s, without flags.
    """
    return _base_url(None, env, written)


def _base_url(flag: str | None, env: Mapping[str, str], manifest: str | None) -> str:
    if flag:
        return flag
    if env.get(BASE_URL_ENV):
        return env[BASE_URL_ENV].rstrip("/")
    return manifest or DEFAULT_BASE_URL


def _state(
    flags: Flags, env: Mapping[str, str], manifest: Manifest | None, folder: Path | None
) -> Location | None:
    # A simulated batch's simulator lives only as long as the process: nothing to resume.
    if not flags.keeps_state or (flags.simulate and flags.state is None):
        return None
    if flags.state is not None:
        return resolve_location(flags.state)
    if env.get(STATE_ENV):
        return resolve_location(env[STATE_ENV])
    if manifest is None:
        return None
    anchor = folder if folder is not None else manifest.source.parent
    if manifest.state is not None:
        return resolve_location(manifest.state, relative_to=anchor)
    return anchor / DEFAULT_STATE
