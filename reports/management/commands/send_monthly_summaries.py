from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from reports.services import monthly_summaries_send


class Command(BaseCommand):
    help = (
        "Generate and e-mail the monthly activity summary of every institution that turned it "
        "on (what the Celery beat job does on the 1st). Safe to repeat: one summary per "
        "institution and month."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM; default: last month")

    def handle(self, *args, month=None, **options):
        try:
            runs = monthly_summaries_send(month=month)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        for run in runs:
            sent = f"e-mailed {run.emailed_at:%Y-%m-%d %H:%M}" if run.emailed_at else "not e-mailed"
            self.stdout.write(f"{run.institution}: {run.get_status_display()}, {sent}")
        self.stdout.write(f"{len(runs)} institution(s).")
