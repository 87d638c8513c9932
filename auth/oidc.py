"""Company single sign-on through OpenID Connect: which local account an identity token's claims name.

Streamlit's st.login does the protocol (authorisation code flow, the identity cookie); this module holds
the one decision that is ours, as a pure function so it can be tested on claims recorded from real
providers: the configured claim (PBKPI_OIDC_CLAIM) names the account — role and scope are kept in
PBKPI_AUTH_DB, never taken from the token. An e-mail-like claim is compared without case."""
from __future__ import annotations


def account_from_claims(claims: dict, claim: str) -> tuple[str | None, str]:
    """(the account the claims name, or None; why not). Only verified e-mail addresses count when the claim
    is `email` and the provider says whether it verified them."""
    value = claims.get(claim)
    if isinstance(value, list):  # some directories send a list (several employee numbers): the first
        value = value[0] if value else None
    if value is None or not str(value).strip():
        return None, f"no {claim} claim"
    if claim == "email" and claims.get("email_verified") is False:
        return None, "email not verified"
    text = str(value).strip()
    return (text.lower() if "@" in text else text), ""
