"""Report paths as GitHub names files: relative to the workspace, with forward slashes."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from basepin.model import Finding, ImageUse, Report


def workspace_path(path: str, workspace: Path) -> str:
    """`path` (relative to the workspace, or absolute) as the API and annotations name it;
    a path outside the workspace is left as it is."""
    absolute = os.path.normpath(workspace / path)
    try:
        relative = Path(os.path.relpath(absolute, workspace))
    except ValueError:  # another drive on Windows
        return path
    if relative.parts[:1] == ("..",):
        return path
    return PurePosixPath(*relative.parts).as_posix()


def relative_report(report: Report, workspace: Path) -> Report:
    def finding(item: Finding) -> Finding:
        path = workspace_path(item.path, workspace)
        fix = None if item.fix is None else item.fix._replace(path=path)
        return item._replace(path=path, fix=fix)

    def use(item: ImageUse) -> ImageUse:
        return item._replace(path=workspace_path(item.path, workspace))

    return report._replace(
        files=tuple(workspace_path(path, workspace) for path in report.files),
        uses=tuple(use(item) for item in report.uses),
        findings=tuple(finding(item) for item in report.findings),
    )
