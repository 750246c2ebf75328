"""JSON as the sandboxed providers write it: amounts are numbers, never strings."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class DecimalAsNumberEncoder(json.JSONEncoder):
    """Write a Decimal as a JSON number with exactly its value (`10`, `1234.5`), refusing any it would round."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            if o == o.to_integral_value():
                return int(o)
            number = float(o)
            # Amounts have at most a dozen digits, which a double holds exactly; anything else is a bug.
            if Decimal(repr(number)) != o:
                raise ValueError(f"{o} cannot be written as a JSON number without rounding")
            return number
        return super().default(o)


def compact_json(document: Any) -> bytes:
    """The bytes of a webhook body: no whitespace, keys in the order given, amounts as numbers."""
    return json.dumps(document, cls=DecimalAsNumberEncoder, separators=(",", ":"), ensure_ascii=False).encode()
