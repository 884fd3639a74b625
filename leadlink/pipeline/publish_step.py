"""`leadlink run --publish`'s last step: `leadlink publish --apply` on what the build produced, and
its outcome as a status, counts and an exit code for the run's summary."""

from __future__ import annotations

import logging
import time
from typing import Any

from loaders.database import error_line
from loaders.settings import Settings
from loaders.state import LockBusy

log = logging.getLogger("leadlink.run")

EXIT_OK, EXIT_FAILED, EXIT_LOCKED = 0, 1, 75
# How publish says its lock is held (it wraps LockBusy in its own error).
BUSY_TEXT = "another leadlink publish"


def publish_changes(settings: Settings, url: str, wait: bool = False) -> dict[str, Any]:
    """Apply the publish; never raises (a failed publish is exit 1 in the summary, a held
    publish lock 75). With `wait`, a held lock is waited for where publish supports it."""
    from leadlink.crm.publish import run as publish_run
    from leadlink.crm.publish.steps import ApplyOptions

    started = time.monotonic()
    attempt_until = started + (3600.0 if wait else 0.0)
    while True:
        try:
            applied = publish_run.apply(settings, url, ApplyOptions())
            break
        except LockBusy as error:
            busy: BaseException = error
        except Exception as error:  # noqa: BLE001 - any failure is the run's exit 1, with its reason
            if not isinstance(error.__cause__, LockBusy) and BUSY_TEXT not in str(error):
                log.error("publish failed: %s", error_line(error), exc_info=log.isEnabledFor(logging.DEBUG))
                return {"status": "failed", "exit_code": EXIT_FAILED, "message": error_line(error)}
            busy = error
        if time.monotonic() >= attempt_until:
            log.warning("publish: %s", error_line(busy))
            return {"status": "locked", "exit_code": EXIT_LOCKED, "message": error_line(busy)}
        time.sleep(1.0)
    result = applied.as_dict()
    figures = result.get("figures") or {}
    return {"status": "ok", "exit_code": EXIT_OK, "batch_id": result.get("batch_id"),
            "resumed": result.get("resumed"), "rows": figures.get("rows", {}),
            "constraints": [{"name": item.get("name"), "state": item.get("state")}
                            for item in result.get("constraints") or []],
            "seconds": round(time.monotonic() - started, 2)}
