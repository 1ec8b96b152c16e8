"""Input/output: manifests, JSON, streamed trajectory files, SBML and PEtab writing."""

from lupusim.io._manifest import build_manifest, file_sha256, git_commit, write_json
from lupusim.io._petab import (
    PetabDesign,
    PetabMeasurement,
    PetabParameter,
    check_design,
    write_petab,
)
from lupusim.io._sbml import export_sbml, model_to_sbml, validate_sbml
from lupusim.io._trajectories import ParquetTrajectorySink

__all__ = [
    "ParquetTrajectorySink",
    "PetabDesign",
    "PetabMeasurement",
    "PetabParameter",
    "build_manifest",
    "check_design",
    "export_sbml",
    "file_sha256",
    "git_commit",
    "model_to_sbml",
    "validate_sbml",
    "write_json",
    "write_petab",
]
