"""What a CDO Send keeps between sends (settings per commit, parsed address lists) stays true to
the fields: every commit, property set or deletion is seen by the next Send."""

from __future__ import annotations

from email.utils import formataddr, getaddresses

import pytest

from cdomail.cdo import (
    CdoError,
    Configuration,
    cdoSendUsingMethod,
    cdoSMTPServer,
    cdoSMTPServerPort,
    read_settings,
)
from cdomail.cdo._text import addr_specs, formatted_addresses, parse_address_list
from cdomail.errors import InputError
from cdomail.lab import Lab

from ._helpers import lab_message


def test_settings_follow_every_commit_and_ignore_staged_changes() -> None:
    cfg = Configuration()
    fields = cfg.Fields
    fields[cdoSMTPServer] = "one.example"
    fields.Update()
    assert read_settings(fields).server == "one.example"
    assert read_settings(fields) is read_settings(fields)  # nothing changed: read once
    fields[cdoSMTPServer] = "two.example"
    assert read_settings(fields).server == "one.example"  # staged only: CDO ignores it
    fields.Update()
    assert read_settings(fields).server == "two.example"
    fields[cdoSMTPServerPort] = 2525
    fields.Update()
    assert read_settings(fields).port == 2525
    fields.Delete(cdoSMTPServerPort)
    assert read_settings(fields).port == 25  # CDO's default, through read_port


def test_settings_from_a_value_that_can_change_alone_are_read_every_time() -> None:
    class Host:
        name = "first.example"

        def __str__(self) -> str:
            return self.name

    host = Host()
    fields = Configuration().Fields
    fields[cdoSMTPServer] = host
    fields.Update()
    assert read_settings(fields).server == "first.example"
    host.name = "second.example"
    assert read_settings(fields).server == "second.example"


def test_a_send_after_a_commit_uses_the_new_server(lab: Lab) -> None:
    msg = lab_message(lab, "plain", port=25, use_ssl=False)
    msg.Send()
    msg.Configuration.Fields[cdoSendUsingMethod] = 3
    msg.Configuration.Fields.Update()
    with pytest.raises(CdoError, match="sendusing is 3"):
        msg.Send()
    assert len(lab.messages) == 1


def test_message_header_properties_reach_the_next_send(lab: Lab) -> None:
    msg = lab_message(lab, "plain", port=25, use_ssl=False)
    msg.Send()
    msg.To = '"Other, Person" <other@example.org>; third@example.org'
    msg.Subject = "second"
    msg.Send()
    first, second = lab.messages
    assert b"To: rcpt@example.org\r\n" in first.data
    assert b'To: "Other, Person" <other@example.org>, third@example.org\r\n' in second.data
    assert b"Subject: second\r\n" in second.data
    assert second.rcpt_tos == ["other@example.org", "third@example.org"]


@pytest.mark.parametrize(
    "value",
    [
        "a@example.com",
        "Bench <bench@example.com>",
        '"Name, Jr." <b@example.org>; c@example.net',
        "=?utf-8?q?J=C3=B6rg?= <j@example.de>, (comment) d@example.com",
        "Jörg Müller <j@example.de>",
        "not an address",
    ],
)
def test_one_parse_gives_what_the_stdlib_parser_gives(value: str) -> None:
    parsed = parse_address_list(value)
    assert parse_address_list(value) is parsed  # kept, not parsed again
    for item, name, address in parsed:
        assert getaddresses([item])[0] == (name, address)
    assert formatted_addresses(value) == tuple(
        formataddr((name, address)) if address else item for item, name, address in parsed
    )


def test_a_kept_parse_still_reports_each_fields_own_error() -> None:
    with pytest.raises(InputError, match="To entry 'Name <>'"):
        addr_specs("Name <>", field="To")
    with pytest.raises(InputError, match="CC entry 'Name <>'"):
        addr_specs("Name <>", field="CC")
