"""Load config/pricing.yaml (schema: orchestrator/pricing.py). Errors name the file and the field (exit 2)."""
from __future__ import annotations

from pathlib import Path

from orchestrator.pricing import DEFAULT_PRICE_FILE, PriceFileError, PriceTable, read_price_file

from cato_migrate.errors import BadInput


def load_prices(path: Path | str | None = None) -> PriceTable:
    """The price table at `path` (the `pricing_file` setting), else the project's config/pricing.yaml."""
    try:
        return read_price_file(Path(path) if path else DEFAULT_PRICE_FILE)
    except PriceFileError as exc:
        raise BadInput(f"invalid prices: {exc}; nothing was measured",
                       hint="fix the file named (its schema and every field's meaning: orchestrator/pricing.py), "
                            "or point pricing_file (CATO_PRICING_FILE) at a valid one") from None
