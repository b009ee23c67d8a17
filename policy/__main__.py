"""The knative-kafka policy pack: `pulumi preview --stack prod --policy-pack policy` (README, "Production")."""
from pulumi_policy import PolicyPack

from pack import POLICIES

PolicyPack(name="knative-kafka", policies=POLICIES)
