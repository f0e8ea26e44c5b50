"""Fixtures shared by the API tests (tests/api/test_domain_api.py has a ``people`` of its own:
payees, and a superuser as "staff")."""

import pytest

from tests.perms import grant_group


@pytest.fixture
def people(django_user_model):
    """ "staff" is an operator: staff with the Operators group's permissions (staff status alone
    grants nothing; tests/access/test_matrix.py covers every role)."""
    return {
        "user": django_user_model.objects.create_user("ann", "ann@example.com", "pw"),
        "other": django_user_model.objects.create_user("bob", "bob@example.com", "pw"),
        "staff": grant_group(django_user_model.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), "Operators"),
        "superuser": django_user_model.objects.create_superuser("root", "root@example.com", "pw"),
    }
