"""Input/output: manifests and JSON (results stores and exports come later)."""

from lupusim.io._manifest import build_manifest, file_sha256, git_commit, write_json

__all__ = ["build_manifest", "file_sha256", "git_commit", "write_json"]
