"""Sun et al. 2009 (Stem Cells 27:1421): MSCT in MRL/lpr mice and four patients."""

from lupusim.studies.sun2009._run import Sun2009Options, reproduce

__all__ = ["Sun2009Options", "reproduce"]
