"""Who a request to the fake Eventbrite API is: its token's organizations, and the 401/403/404
answers Eventbrite gives, shared by the API (``eventbrite_api``) and its webhook routes
(``eventbrite_webhooks``) so neither imports the other.

The token comes as ``Authorization: Bearer <token>`` or ``?token=``. A token reaches only its
organizations: another organization's object is a 403, a missing one a 404.
"""

from __future__ import annotations

from starlette.requests import Request

from ticketing_pipeline.sandbox.dataset import EbOrg, SandboxDataset
from ticketing_pipeline.sandbox.errors import ApiError


def token_org_ids(request: Request, ds: SandboxDataset) -> list[str]:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.query_params.get("token")
    if not token:
        raise ApiError(401, "An OAuth token is required for this call.", "NO_AUTH")
    orgs = ds.eb_tokens.get(token)
    if orgs is None:
        raise ApiError(401, "The OAuth token you provided was invalid.", "INVALID_AUTH")
    return orgs


def forbidden() -> ApiError:
    return ApiError(403, "You do not have permission to access the resource you requested.")


def checked_org(request: Request, ds: SandboxDataset) -> EbOrg:
    org_ids = token_org_ids(request, ds)
    org_id = request.path_params["org_id"]
    if org_id not in ds.eb_orgs:
        raise ApiError(404, "The organization you requested does not exist.")
    if org_id not in org_ids:
        raise forbidden()
    return ds.eb_orgs[org_id]
