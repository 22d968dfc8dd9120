"""Dialplans: the source is parsed on every save; a syntax error is refused with its position."""

import pytest
from django.core.exceptions import ValidationError

from sipplatform.customers.services import create_customer
from sipplatform.dialplans.models import Dialplan
from sipplatform.dialplans.services import save_dialplan

GOOD = """if sys.Out:
    sys.Dial("${dst}@provider[tr=c]")
else:
    sys.Dial("%s@local" % sys.Username)
sys.Respond(480, "Nobody home")
"""
BROKEN = 'sys.Log("start")\nif sys.Out\n    sys.Dial("x")\n'


@pytest.fixture
def acme(db):
    return create_customer("Acme")


def test_a_sipsorcery_style_script_is_accepted(acme):
    dialplan, created = save_dialplan(acme, "default", GOOD, "outgoing")

    assert created
    assert Dialplan.objects.get(pk=dialplan.pk).script == GOOD


def test_a_syntax_error_is_refused_with_line_and_column(acme):
    with pytest.raises(ValidationError, match=r"line 2, column 11"):
        save_dialplan(acme, "default", BROKEN)
    assert not Dialplan.objects.exists()


def test_save_refuses_a_syntax_error_even_without_full_clean(acme):
    with pytest.raises(ValidationError, match="line 2"):
        Dialplan.objects.create(customer=acme, name="default", script=BROKEN)
    assert not Dialplan.objects.exists()


def test_while_is_refused_at_parse_time(acme):
    with pytest.raises(ValidationError, match=r"line 2, column 1: .*while"):
        save_dialplan(acme, "default", "x = 1\nwhile True:\n    pass\n")


def test_an_oversized_script_is_refused(acme):
    with pytest.raises(ValidationError, match="at most"):
        save_dialplan(acme, "default", "x = 1\n" * 20000)


def test_loading_again_replaces_the_script_and_keeps_the_description(acme):
    save_dialplan(acme, "transfer", GOOD, "blind transfers")
    dialplan, created = save_dialplan(acme, "transfer", "sys.Respond(486, 'Busy')\n")

    assert not created
    assert dialplan.is_transfer_dialplan
    assert dialplan.description == "blind transfers"
    assert Dialplan.objects.named(acme, "transfer").script == "sys.Respond(486, 'Busy')\n"


def test_a_broken_replacement_leaves_the_stored_script_alone(acme):
    save_dialplan(acme, "default", GOOD)

    with pytest.raises(ValidationError):
        save_dialplan(acme, "default", BROKEN)
    assert Dialplan.objects.get().script == GOOD


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "slash/name"])
def test_bad_names_are_refused(acme, name):
    with pytest.raises(ValidationError) as caught:
        save_dialplan(acme, name, GOOD)
    assert "name" in caught.value.message_dict
