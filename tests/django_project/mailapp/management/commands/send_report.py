"""``manage.py send_report --to ADDR --attach FILE``: what a Django app typically sends.

A multipart report (text + HTML alternative, a generated CSV and a file from disk, a Bcc)
and a short notice go out together over one connection (``send_messages``), then the admins
are told (``mail_admins``) on that same connection. One line per message says whether it
travelled encrypted, read from what the backend recorded on each message.
"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection, mail_admins
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):  # type: ignore[misc]  # django ships no types here
    help = "Send the daily report and tell the admins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True)
        parser.add_argument("--bcc", default="audit@example.test")
        parser.add_argument("--attach", required=True, help="a file to attach")

    def handle(self, *args: Any, **options: Any) -> None:
        report = EmailMultiAlternatives(
            "Daily report",
            "Numbers attached.\n",
            to=[options["to"]],
            bcc=[options["bcc"]],
        )
        report.attach_alternative("<p>Numbers <b>attached</b>.</p>", "text/html")
        report.attach("numbers.csv", "day,sent\nmonday,42\n", "text/csv")
        report.attach_file(options["attach"])
        notice = EmailMultiAlternatives("Report sent", "See the other message.\n",
                                        to=[options["to"]])
        with get_connection() as connection:
            sent = connection.send_messages([report, notice])
            mail_admins("Report sent", f"{sent} messages went out.", connection=connection)
            for message in [report, notice]:
                result = message.cdomail_result
                self.stdout.write(
                    f"{message.subject}: ok={result.ok} encrypted={result.encrypted}"
                    f" tls={result.tls.version if result.tls else None}"
                )
