"""Sun et al. 2009 (Stem Cells 27:1421): MSCT in MRL/lpr mice and four patients."""

from lupusim.studies.sun2009._petab import EXPORTABLE_PROBLEMS, export_petab
from lupusim.studies.sun2009._run import Sun2009Options, reproduce

__all__ = ["EXPORTABLE_PROBLEMS", "Sun2009Options", "export_petab", "reproduce"]
