"""Clinical instruments from visit tables (placeholder until issue 3 lands)."""
