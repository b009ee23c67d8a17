"""The rules of rules.py as Pulumi stack policies (kept apart from __main__.py, which serves them)."""
from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from rules import RULES, Resource

CONFIG = {
    "aks-api-server-restricted": PolicyConfigSchema(
        properties={"allowOpenApiServer": {"type": "boolean", "default": False}}),
    "kafka-authentication-required": PolicyConfigSchema(
        properties={"allowUnauthenticated": {"type": "boolean", "default": False}}),
    "functions-cluster-local": PolicyConfigSchema(
        properties={"allowPublic": {"type": "boolean", "default": False}}),
    "function-images-pinned": PolicyConfigSchema(
        properties={"allowUnpinnedImages": {"type": "boolean", "default": False}}),
    "function-namespaces-restricted": PolicyConfigSchema(
        properties={"allowUnlabelledNamespaces": {"type": "boolean", "default": False}}),
    "aks-observed-and-hardened": PolicyConfigSchema(
        properties={"allowNoEncryptionAtHost": {"type": "boolean", "default": False}}),
}


def as_policy(rule: str) -> StackValidationPolicy:
    validate_rule, description = RULES[rule]

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.props, r.urn, frozenset(d.urn for d in r.dependencies))
                     for r in args.resources]
        for violation in validate_rule(resources, args.get_config()):
            report_violation(violation.message, violation.resource.urn)

    return StackValidationPolicy(name=rule, description=description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY, config_schema=CONFIG.get(rule))


POLICIES = [as_policy(rule) for rule in RULES]
