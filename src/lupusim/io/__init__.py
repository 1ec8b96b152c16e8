"""Input/output: manifests, JSON, streamed trajectory files, SBML and PEtab export."""

from lupusim.io._manifest import build_manifest, file_sha256, git_commit, write_json
from lupusim.io._petab import export_petab
from lupusim.io._sbml import export_sbml, model_to_sbml, validate_sbml
from lupusim.io._trajectories import ParquetTrajectorySink

__all__ = [
    "ParquetTrajectorySink",
    "build_manifest",
    "export_petab",
    "export_sbml",
    "file_sha256",
    "git_commit",
    "model_to_sbml",
    "validate_sbml",
    "write_json",
]
