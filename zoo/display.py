"""Values as people read them: one rule for the CLI's tables and the web pages (and their JSON twins)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any


def jsonable(value: Any) -> Any:
    """Records as JSON values: dataclasses as objects, datetimes in ISO 8601, NaN and infinities as null."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def cell_text(value: Any) -> str:
    """A table cell: floats to 4 significant digits, None and non-finite numbers as a dash, booleans as yes/no,
    datetimes to the second, containers as JSON."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value))
    return str(jsonable(value))
