"""The real switch of the tier (the deploy kit's phrases with lang/pult_say.xml, mod_say_ru and
mod_say_en) asks for files the generated prompt set has when it says numbers and durations: the
check of tests/integration/test_prompts_real_switch.py (which needs ``FREESWITCH_ESL``) run on
this tier's own switch."""
from __future__ import annotations

import pytest

from tests.integration.test_prompts_real_switch import check_say

pytestmark = pytest.mark.freeswitch


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_tiers_switch_says_numbers_and_durations_with_files_of_the_set(stack, lang):
    check_say(stack.fs.api, lang)
