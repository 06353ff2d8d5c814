from __future__ import annotations

from fastapi import APIRouter

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.market import service
from tiangong.market.endpoints import market_router
from tiangong.market.schemas import InstallRequest
from tiangong.market.template_market import TEMPLATES, TemplateInstallResult

router: APIRouter = market_router("/template-market", "template market", TEMPLATES)


@router.post("/{listing_id}/install", response_model=TemplateInstallResult, status_code=201)
async def install_template(
    listing_id: str, session: SessionDep, user: CurrentUser, data: InstallRequest | None = None
) -> TemplateInstallResult:
    """A new draft workflow of the caller's from the template's current version. Once per
    user: installing again is a 409 ALREADY_INSTALLED naming the existing workflow."""
    name = data.name if data is not None else None
    install, workflow = await service.install(session, user, TEMPLATES, listing_id, name)
    return TemplateInstallResult(install=install, workflow=workflow)
