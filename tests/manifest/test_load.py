"""Loading valid manifests: defaults, overrides and the environment."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hexbatch.manifest import PollSettings, Window, load_manifest
from tests.manifest.conftest import LoadText, WriteManifest

MINIMAL = """
version: 1
projects:
  - id: 5A8591DD-4039-49DF-9202-96385BA3EFF8
"""


def test_minimal_manifest_gets_documented_defaults(load_text: LoadText) -> None:
    """A manifest with only one project id gets every default from the contract."""
    manifest = load_text(MINIMAL)
    project = manifest.projects[0]
    assert manifest.base_url == "https://app.hex.tech/api/v1"
    assert manifest.token_env == "HEX_API_TOKEN"
    assert manifest.max_in_flight == 10
    assert manifest.limits.requests == (Window(30, 60.0), Window(1800, 3600.0))
    assert manifest.limits.triggers == (Window(20, 60.0), Window(60, 3600.0))
    assert project.timeout == 1800.0
    assert project.poll == PollSettings(2.0, 30.0, 1.5)
    assert project.retries.attempts == 2
    assert project.retries.on == frozenset({"UNABLE_TO_ALLOCATE_KERNEL"})
    assert project.run.update_published_results is False
    assert project.run.use_cached_sql_results is True
    assert project.max_in_flight is None


def test_project_id_is_lowercased_and_name_defaults_to_it(load_text: LoadText) -> None:
    """The id is normalised to lower case and doubles as the name when none is given."""
    project = load_text(MINIMAL).projects[0]
    assert project.id == "5a8591dd-4039-49df-9202-96385ba3eff8"
    assert project.name == project.id


def test_sha256_is_of_the_file_bytes(write_manifest: WriteManifest) -> None:
    """The manifest digest is the sha256 of the exact bytes on disk."""
    path = write_manifest(MINIMAL)
    manifest = load_manifest(path, env={})
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.source == path


def test_project_overrides_merge_key_by_key(load_text: LoadText) -> None:
    """A project's poll override replaces only the keys it names."""
    manifest = load_text(
        """
        version: 1
        defaults: {timeout: 5m, poll: {initial: 500ms, max: 10s}}
        projects:
          - id: 5a8591dd-4039-49df-9202-96385ba3eff8
            max_in_flight: 2
            poll: {max: 1m}
            retries: {attempts: 0}
        """
    )
    project = manifest.projects[0]
    assert project.timeout == 300.0
    assert project.poll == PollSettings(0.5, 60.0, 1.5)
    assert project.retries.attempts == 0
    assert project.retries.on == frozenset({"UNABLE_TO_ALLOCATE_KERNEL"})
    assert project.max_in_flight == 2


def test_environment_base_url_overrides_the_manifest(load_text: LoadText) -> None:
    """HEX_API_BASE_URL in the environment wins over hex.base_url."""
    manifest = load_text(
        MINIMAL + "hex: {base_url: 'https://example.com/api/v1'}\n",
        env={"HEX_API_BASE_URL": "http://127.0.0.1:8765/api/v1/"},
    )
    assert manifest.base_url == "http://127.0.0.1:8765/api/v1"


def test_with_base_url_applies_a_command_line_override(load_text: LoadText) -> None:
    """with_base_url returns a copy pointing elsewhere, leaving the original untouched."""
    manifest = load_text(MINIMAL)
    moved = manifest.with_base_url("http://127.0.0.1:9/api/v1/")
    assert moved.base_url == "http://127.0.0.1:9/api/v1"
    assert manifest.base_url == "https://app.hex.tech/api/v1"


def test_env_variables_expand_in_string_values(load_text: LoadText) -> None:
    """${VAR} and ${VAR:-default} expand from the given environment."""
    manifest = load_text(
        """
        version: 1
        projects:
          - id: 5a8591dd-4039-49df-9202-96385ba3eff8
            params: {region: "${REGION}", tier: "${TIER:-free}", literal: "$${KEEP}"}
        """,
        env={"REGION": "eu"},
    )
    assert manifest.projects[0].params == {"region": "eu", "tier": "free", "literal": "${KEEP}"}


def test_simulate_scenario_path_resolves_beside_the_manifest(
    load_text: LoadText, tmp_path: Path
) -> None:
    """A relative scenario path is resolved against the manifest's directory."""
    manifest = load_text(MINIMAL + "simulate: {scenario: demo-scenario.yaml}\n")
    assert manifest.simulate == {"scenario": str(tmp_path.resolve() / "demo-scenario.yaml")}


def test_single_window_limit_is_accepted(load_text: LoadText) -> None:
    """A limit written as one mapping means a single window."""
    manifest = load_text(MINIMAL + "limits: {triggers: {count: 5, per: 2s}}\n")
    assert manifest.limits.triggers == (Window(5, 2.0),)


def test_on_key_is_not_read_as_a_boolean(load_text: LoadText) -> None:
    """`on:` stays the key 'on' (YAML 1.1 would turn it into true)."""
    manifest = load_text(MINIMAL + "defaults: {retries: {on: [ERRORED, KILLED]}}\n")
    assert manifest.projects[0].retries.on == frozenset({"ERRORED", "KILLED"})
