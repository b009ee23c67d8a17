"""Pulumi ComponentResources of the knative-kafka stack, one per concern."""
