"""The workers resource."""
