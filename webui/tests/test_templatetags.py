"""The portal's template filters."""

from datetime import timedelta

import pytest

from webui.templatetags.portal import duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(hours=1, minutes=1), "1 hour 1 minute"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(0), "0 seconds"),
        (None, ""),
    ],
)
def test_a_duration_reads_in_words(value, text):
    assert duration(value) == text
