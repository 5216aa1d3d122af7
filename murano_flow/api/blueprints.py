"""``/v1/blueprints``: upload, validate and read stored blueprint versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from ..app import library
from ..store.base import BlueprintVersion
from .models import BLUEPRINT_NAME, PROBLEMS, Stored, Upload, Validated, Version, VersionText
from .security import READ, Operator
from .state import journal

router = APIRouter(prefix="/v1/blueprints", tags=["blueprints"], responses=PROBLEMS)
Name = Annotated[str, Path(pattern=BLUEPRINT_NAME, max_length=128)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _version(v: BlueprintVersion) -> Version:
    return Version(name=v.name, version=v.version, path=v.path, digest=v.digest,
                   created=v.created, author=v.author, files=sorted(v.files))


@router.get("", response_model=list[Version], dependencies=[Depends(READ)])
def list_blueprints(request: Request) -> list[Version]:
    """The newest version of every stored blueprint."""
    return [_version(v) for v in journal(request).blueprints()]


@router.post("", response_model=Stored, status_code=201,
             responses={200: {"model": Stored, "description": "Identical to the newest "
                                                              "version, which is returned"}})
def upload(body: Upload, request: Request, response: Response,
           token: Operator) -> Stored:
    """Validate a blueprint (every problem as path:line) and store it as the next version
    of its name; an upload identical to the newest version returns that version (200)."""
    stored, new = library.upload(journal(request), body.path, body.text, body.files,
                                 token.name)
    if not new:
        response.status_code = 200
    return Stored(**_version(stored).model_dump(), new=new)


@router.post("/validate", response_model=Validated, dependencies=[Depends(READ)])
def validate(body: Upload) -> Validated:
    """Validate a blueprint without storing it: 200, or 422 with every problem."""
    bp = library.check_upload(body.path, body.text, body.files)
    return Validated(name=bp.name, states=len(bp.nodes), parameters=list(bp.parameters),
                     assumed=list(bp.assumed))


@router.get("/{name}/versions", response_model=list[Version], dependencies=[Depends(READ)])
def versions(name: Name, request: Request) -> list[Version]:
    """Every version of a stored blueprint, oldest first (404 if it has none)."""
    found = journal(request).blueprint_versions(name)
    if not found:
        journal(request).blueprint(name)  # raises NotFound, saying so
    return [_version(v) for v in found]


@router.get("/{name}/versions/{version}", response_model=VersionText,
            dependencies=[Depends(READ)])
def version(name: Name, version: Number, request: Request) -> VersionText:
    """One stored version with its text and files."""
    v = journal(request).blueprint(name, version)
    return VersionText(**_version(v).model_dump(), text=v.text, texts=v.files)
