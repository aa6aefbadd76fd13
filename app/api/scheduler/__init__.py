"""The scheduler resource."""
