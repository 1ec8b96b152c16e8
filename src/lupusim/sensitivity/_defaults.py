"""Default sizes of a sensitivity run (kept light: the CLI imports them at start-up).

Chosen so that the Morris screen of every eligible parameter for one endpoint of a
24-week protocol fits in 15 minutes on 2 cores (docs/sensitivity.md, "Cost").
"""

DEFAULT_SUBJECTS = 100
DEFAULT_TRAJECTORIES = 10
DEFAULT_SAMPLES = 64
DEFAULT_TOP = 5
