from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox import revolut


def amount(value: str) -> Decimal:
    """Parse --amount; argparse names this function in its message when the value is not a number."""
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None


class Command(BaseCommand):
    help = "Send an incoming bank transfer to a Revolut sandbox business (it settles a few seconds later)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client-id", required=True, help="OAuth client id of the business")
        parser.add_argument("--amount", required=True, type=amount, help="e.g. 1234.50")
        parser.add_argument("--currency", required=True, help="currency of one of the business's accounts")
        parser.add_argument("--reference", required=True)
        parser.add_argument("--payer", required=True, help="the payer's name")
        parser.add_argument("--payer-iban", default="")
        parser.add_argument(
            "--state", default="completed", choices=revolut.INJECTABLE_STATES, help="the state it settles to"
        )

    def handle(self, *args, **options) -> None:
        try:
            transfer = revolut.inject_incoming_transfer(
                client_id=options["client_id"], currency=options["currency"], amount=options["amount"],
                reference=options["reference"], payer_name=options["payer"], payer_iban=options["payer_iban"],
                state=options["state"],
            )  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        leg = transfer["legs"][0]
        self.stdout.write(
            f"Transaction {transfer['id']}: {leg['amount']} {leg['currency']} from {options['payer']}, "
            f"{transfer['state']} → {options['state']} in {revolut.SETTLE_SECONDS} s"
        )
