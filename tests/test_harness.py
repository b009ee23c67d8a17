"""The test harness itself: renders shared between tests are copies in a fresh runtime, never a shortcut
that lets one test's changes or runtime reach another, and the mocked engine returns secret outputs."""
from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi.runtime.resource
import pytest
from pulumi_kubernetes.core.v1 import ConfigMap

import harness
from harness import Harness, is_secret, resolve


@pytest.fixture
def shared() -> harness.RenderCache:
    """A cache of its own, so what this test checks does not depend on what other tests rendered."""
    cache = harness.RenderCache()
    harness.RENDER_CACHE = cache
    return cache


def test_a_shared_render_is_a_copy_the_test_may_change(shared):
    first = Harness().run_main("local")
    service = first.one("kubernetes:serving.knative.dev/v1:Service")
    service.inputs["metadata"]["name"] = "changed"
    service.dependencies.clear()
    resolve(first.exports["functions"])["event-display"]["url"] = "changed"
    second = Harness().run_main("local")
    assert (shared.hits, shared.misses) == (1, 1)
    again = second.one("kubernetes:serving.knative.dev/v1:Service")
    assert again.inputs["metadata"]["name"] == "event-display"
    assert again.dependencies
    assert resolve(second.exports["functions"])["event-display"]["url"] != "changed"
    third = Harness().run_main("local")
    assert third.one("kubernetes:serving.knative.dev/v1:Service") is not again


def test_a_shared_render_replays_into_a_fresh_runtime(shared):
    rendered = Harness().run_main("dev")
    first_root = pulumi.runtime.get_root_resource()
    replay = Harness()
    replayed = replay.run_main("dev")
    assert shared.hits == 1
    assert pulumi.get_stack() == "dev"
    assert pulumi.runtime.get_root_resource() not in (None, first_root), "a new root stack, as a run makes"
    assert replay.monitor is not None and set(replay.monitor.registrations) == set(rendered.registrations)
    assert replay.monitor.invokes == ["pulumi:pulumi:readStackOutputs", *replay.monitor.invokes[1:]]
    assert set(replayed.exports) == set(rendered.exports)
    assert is_secret(replayed.exports["kubeconfig"]) and not is_secret(replayed.exports["bootstrapServers"])
    assert resolve(replayed.exports["settings"]) == resolve(rendered.exports["settings"])


def test_renders_are_shared_only_between_the_same_stack_settings_and_deployed_outputs(shared):
    Harness().run_main("local")
    Harness().run_main("local", {"topics": [{"name": "my-topic", "partitions": 12}]})
    Harness().run_main("local", deployed={"settings": {}})
    assert (shared.hits, shared.misses) == (0, 3)


def test_without_the_cache_every_render_runs_the_program():
    harness.RENDER_CACHE = None
    first, second = Harness().run_main("local"), Harness().run_main("local")
    assert first.one("pulumi:providers:kubernetes") is not second.one("pulumi:providers:kubernetes")


def test_outputs_a_provider_declares_secret_come_back_secret(pulumi_mocks):
    """The engine marks a resource's additionalSecretOutputs secret (a password's result, a private key)."""
    import pulumi_random as random

    def program() -> None:
        password = random.RandomPassword("p", length=8)
        pulumi.export("result", password.result)
        pulumi.export("length", password.length)

    pulumi_mocks.run(program)
    root = pulumi.runtime.get_root_resource()
    assert root is not None
    outputs = root.outputs  # type: ignore[attr-defined]
    assert is_secret(outputs["result"]) and not is_secret(outputs["length"])


def test_aliases_reach_the_engine_as_specs_while_the_sdks_own_alias_urns_are_skipped(pulumi_mocks):
    """tests/conftest.py skips the URNs Resource.__init__ collapses for type-only aliases (the providers' API
    versions); the engine still gets every alias, and one that cannot be collapsed still fails the run."""
    def program(alias: pulumi.Alias) -> Callable[[], None]:
        def resources() -> None:
            provider = pulumi.ProviderResource("kubernetes", "k8s", {})
            ConfigMap("settings", opts=pulumi.ResourceOptions(provider=provider, aliases=[alias]))
        return resources

    registry = pulumi_mocks.run(program(pulumi.Alias(name="old")))
    assert [a["spec"]["name"] for a in registry.one("kubernetes:core/v1:ConfigMap").alias_specs] == ["old"]
    registry = pulumi_mocks.run(program(pulumi.Alias(type_="kubernetes:core/v1beta1:ConfigMap")))
    [spec] = registry.one("kubernetes:core/v1:ConfigMap").alias_specs
    assert spec["spec"]["type"] == "kubernetes:core/v1beta1:ConfigMap"
    with pytest.raises(Exception, match="No valid 'name' passed in for alias"):
        pulumi_mocks.run(program(pulumi.Alias(name=None)))
    with pytest.raises(AssertionError, match="computed alias URNs itself"):
        pulumi.runtime.resource.all_aliases([pulumi.Alias(name="old")], "settings", "kubernetes:core/v1:ConfigMap",
                                            None)
