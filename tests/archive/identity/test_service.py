"""Identity rules through the real service and database."""

from __future__ import annotations

import pytest

from archive.errors import Conflict, InvalidInput
from archive.identity.passwords import PRODUCTION, Passwords
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.settings import AuthSettings


@pytest.fixture
def identity(ctx):
    with ctx.db.unit_of_work() as uow:
        yield IdentityService(IdentityRepository(uow.session), ctx.passwords)


def new(username="rep", roles=("sales_rep",), department="SALES", **kw):
    return NewUser(username=username, display_name=username, password="long enough password",
                   roles=list(roles), department_code=department, **kw)


def test_user_with_department_and_roles(identity):
    identity.add_department("sales", "Sales")
    user = identity.add_user(new(roles=["sales_rep", "customer_service"]))
    assert user.roles == ["customer_service", "sales_rep"]
    assert user.department.code == "SALES"
    assert user.password_hash.startswith("$argon2id$")


def test_unknown_role_and_bad_combinations_are_refused(identity):
    identity.add_department("SALES", "Sales")
    with pytest.raises(InvalidInput, match="wizard"):
        identity.add_user(new(roles=["wizard"]))
    with pytest.raises(InvalidInput):
        identity.add_user(new(roles=["department_head"], department=None))
    with pytest.raises(InvalidInput):
        identity.add_user(new(username="c", roles=["customer"], department=None, kind="customer"))
    with pytest.raises(InvalidInput):
        identity.add_user(new(roles=["customer", "sales_rep"]))


def test_duplicate_username_and_department(identity):
    identity.add_department("SALES", "Sales")
    identity.add_user(new())
    with pytest.raises(Conflict):
        identity.add_user(new())
    with pytest.raises(Conflict):
        identity.add_department("SALES", "Again")


def test_revoke_and_role_change_bump_the_token_version(identity):
    identity.add_department("SALES", "Sales")
    user = identity.add_user(new())
    before = user.token_version
    user = identity.revoke_sessions(user)
    user = identity.set_roles(user, ["sales_rep", "marketing"])
    assert user.token_version == before + 2


def test_production_argon2_parameters():
    """Tests run with cheap hashing; the shipped defaults are the production profile."""
    defaults = {name: AuthSettings.model_fields[f"argon2_{name}"].default for name in PRODUCTION}
    assert defaults == PRODUCTION
    assert Passwords(**PRODUCTION).hash("x").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
