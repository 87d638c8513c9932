"""The one decision company sign-on leaves to us: which local account an identity token names. Claims as
real providers send them (recorded shapes; values made up)."""
from __future__ import annotations

import pytest

from auth.oidc import account_from_claims

KEYCLOAK = {"sub": "f1c2…", "email": "Zhang.Wei@Corp.example", "email_verified": True, "preferred_username": "zhangwei",
            "name": "张伟", "given_name": "伟", "family_name": "张"}
ENTRA = {"sub": "AAAAAAAA…", "oid": "00000000-0000-…", "preferred_username": "zhangwei@corp.example",
         "email": "zhangwei@corp.example", "name": "张伟", "tid": "…"}  # Entra ID sends no email_verified
AUTHING_WECOM = {"sub": "6290…", "phone_number_verified": False, "email": None, "preferred_username": "ZhangWei",
                 "employee_id": ["E0012345"], "name": "张伟"}  # an IDaaS bridging 企业微信: no e-mail
UNVERIFIED = {"sub": "x", "email": "someone@gmail.example", "email_verified": False}


@pytest.mark.parametrize("claims,claim,account", [
    (KEYCLOAK, "email", "zhang.wei@corp.example"),  # e-mail compared without case
    (KEYCLOAK, "preferred_username", "zhangwei"),
    (ENTRA, "email", "zhangwei@corp.example"),
    (ENTRA, "preferred_username", "zhangwei@corp.example"),
    (AUTHING_WECOM, "preferred_username", "ZhangWei"),  # a user name keeps its case
    (AUTHING_WECOM, "employee_id", "E0012345"),  # a list: its first value
])
def test_the_configured_claim_names_the_account(claims, claim, account):
    assert account_from_claims(claims, claim) == (account, "")


@pytest.mark.parametrize("claims,claim,why", [
    (AUTHING_WECOM, "email", "no email claim"),
    (KEYCLOAK, "employee_id", "no employee_id claim"),
    (UNVERIFIED, "email", "email not verified"),
    ({"sub": "x", "employee_id": []}, "employee_id", "no employee_id claim"),
    ({"sub": "x", "email": "  "}, "email", "no email claim"),
])
def test_no_account_without_a_usable_claim(claims, claim, why):
    assert account_from_claims(claims, claim) == (None, why)
