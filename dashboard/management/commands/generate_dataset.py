"""Fill the database with ten years of synthetic group history, to benchmark the CEO dashboard on it."""

from django.core.management.base import BaseCommand, CommandError

from dashboard.dataset import DEFAULT_SEED, PUBLIC_SIZES, SIZES, DatasetExists, dataset_generate


class Command(BaseCommand):
    help = (
        "Generate ten years of invoices, quotes, projects, purchases, payments and bank transactions for the five "
        "group companies: S ≈ 10 000 invoices, M ≈ 100 000, L ≈ 1 000 000."
    )

    def add_arguments(self, parser) -> None:
        # XS (a few hundred invoices) is accepted for the tests but not advertised.
        parser.add_argument(
            "--size", required=True, choices=list(SIZES), metavar="{" + ",".join(PUBLIC_SIZES) + "}",
            help="S, M or L.",
        )  # fmt: skip
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Random seed: the same seed gives the same data "
            f"(default: {DEFAULT_SEED}).",
        )  # fmt: skip
        choice = parser.add_mutually_exclusive_group()
        choice.add_argument(
            "--replace", action="store_true", help="Delete a previously generated dataset first (and only that)."
        )
        choice.add_argument("--if-missing", action="store_true", help="Keep a previously generated dataset.")

    def handle(self, *args, size: str, seed: int, replace: bool, if_missing: bool, **options) -> None:
        self.stdout.write(f"Generating dataset {size} (seed {seed})…")
        try:
            result = dataset_generate(size=size, seed=seed, replace=replace, report=self.stdout.write)
        except DatasetExists as error:
            if if_missing:
                self.stdout.write("A generated dataset is already there: kept.")
                return
            raise CommandError(str(error)) from error
        self.stdout.write("Rows generated:")
        width = max(len(table) for table in result.rows)
        for table, count in result.rows.items():
            self.stdout.write(f"  {table:<{width}}  {count:>9}")
        self.stdout.write(f"  {'total':<{width}}  {sum(result.rows.values()):>9}")
        self.stdout.write(self.style.SUCCESS(f"Done in {result.seconds:.1f} s."))
