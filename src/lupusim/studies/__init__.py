"""Named published studies, reproducible by one command."""
