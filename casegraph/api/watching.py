"""`casegraph serve --watch FOLDER`: the workspace reads the drop folder itself.

An embedded store has one writer: the process that serves it. So the workspace looks at the folder every
`interval` seconds and, when files have settled, imports them and runs `update` as a change on its writer lane
(alone, audited as the store's owner doing `watch FOLDER`); open inboxes see the new alerts at their next poll
of /api/alerts?since=. Reads wait while an update runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casegraph import dropfolder
from casegraph.api.lanes import Caller
from casegraph.safeguards.session import os_account

log = logging.getLogger("casegraph.watch")


@dataclass(frozen=True)
class WatchOptions:
    folder: Path
    interval: float = 5.0
    settle: float = 2.0
    table: str | None = None
    mapping: str | None = None
    agency: str | None = None


class FolderWatch:
    """A thread that hands each batch of settled files to the workspace's writer lane."""

    def __init__(self, ws: Any, options: WatchOptions) -> None:
        self.ws, self.options = ws, options
        self.batches: list[dict[str, Any]] = []  # what each batch did (the last few)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="casegraph-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=600)

    def _loop(self) -> None:
        while not self._stop.is_set():
            files = dropfolder.ready_now(self.options.folder, self.options.settle)
            if files:
                self._hand_over(files)
            self._stop.wait(self.options.interval)

    def _hand_over(self, files: list[Path]) -> None:
        caller = Caller(os_account(), "monitoring", "watch", what=f"watch {self.options.folder}")
        job = self.ws.submit(caller, lambda g: self._process(g, files), alone=True)
        try:
            self.batches = [*self.batches[-9:], job.result()]
        except Exception:  # a batch that fails is reported; the watch goes on with the next files
            log.exception("watch: a batch of %d file(s) failed", len(files))

    def _process(self, g: Any, files: list[Path]) -> dict[str, Any]:
        o = self.options
        agency = o.agency or (None if o.mapping else self.ws.settings.ingest.agency)
        return dropfolder.import_and_update(
            g,
            self.ws.settings,
            files,
            table=o.table,
            stop=self._stop.is_set,
            mapping=o.mapping,
            agency=agency,
        )
