"""The operator's requisites checks: INN check digits (10 and 12 digits), KPP, BIK, accounts —
each refusal names what is wrong."""
import pytest

from jobs.billing.requisites import (MSG_ACCOUNT, MSG_BIK, MSG_INN_CHECKSUM, MSG_INN_LENGTH, MSG_KPP,
                                     RequisiteError, check_account, check_bik, check_inn, check_kpp, inn_ok)


@pytest.mark.parametrize("inn", ["7707083893", "7736207543", "500100732259", "7830002293"])
def test_real_inns_pass(inn):
    assert inn_ok(inn) and check_inn(f" {inn[:4]} {inn[4:]} ") == inn  # spaces typed by a person are dropped


@pytest.mark.parametrize("inn", ["7707083894", "7712345678", "500100732258", "500100732269"])
def test_a_wrong_check_digit_is_refused(inn):
    with pytest.raises(RequisiteError) as exc:
        check_inn(inn)
    assert exc.value.message == MSG_INN_CHECKSUM


@pytest.mark.parametrize("check, value, message", [
    (check_inn, "12345", MSG_INN_LENGTH), (check_inn, "77070838931", MSG_INN_LENGTH), (check_inn, "77O7083893", MSG_INN_LENGTH),
    (check_kpp, "77360100", MSG_KPP), (check_kpp, "77360100A", MSG_KPP),
    (check_bik, "0445252250", MSG_BIK), (check_account, "4070281090000000000", MSG_ACCOUNT),
    (check_account, "4070281090000000000Z", MSG_ACCOUNT)])
def test_malformed_values_get_their_own_message(check, value, message):
    with pytest.raises(RequisiteError) as exc:
        check(value)
    assert exc.value.message == message


def test_empty_values_clear_the_field():
    assert check_inn("") is None and check_kpp(None) is None and check_bik("  ") is None and check_account("") is None
    assert check_kpp("773601001") == "773601001" and check_account("40702810900000000001") == "40702810900000000001"
