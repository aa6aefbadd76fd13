"""The executions resource."""
