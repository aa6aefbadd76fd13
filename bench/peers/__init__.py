"""The peers Cronwell is measured against, run exactly as their users would."""
