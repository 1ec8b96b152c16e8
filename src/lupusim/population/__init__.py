"""Virtual subjects: parameter sampling around a preset (more in issue 4)."""

from lupusim.population._sampling import sample_parameters, set_parameter

__all__ = ["sample_parameters", "set_parameter"]
