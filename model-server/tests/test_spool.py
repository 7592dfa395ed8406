"""The spool keeps unsent events on disk: a live writer's file is left alone, a dead writer's file
is taken over from its checkpoint, and a write torn by the crash is skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlpatterns_server.predlog.spool import Spool


def test_a_live_writers_events_are_not_taken(tmp_path: Path) -> None:
    alive = Spool(tmp_path)
    alive.append(b'{"request_id": "a"}')
    assert Spool(tmp_path).adopt_orphans() == []
    alive.close()


WRITER_THAT_DIES = """
import os, sys
import subprocess
import sys
from pathlib import Path
from mlpatterns_server.predlog.spool import Spool
spool = Spool(Path(sys.argv[1]))
for i in range(4):
    spool.append(b'{"request_id": "%d"}' % i)
spool.mark_sent([b'{"request_id": "0"}'])
with spool.path.open("ab") as handle:
    handle.write(b'{"request_id": "torn')  # the crash cuts the last write short
os._exit(9)  # no close(): as if killed
"""


def test_a_dead_writers_unsent_events_are_taken_from_the_checkpoint(tmp_path: Path) -> None:
    died = subprocess.run([sys.executable, "-c", WRITER_THAT_DIES, str(tmp_path)], check=False)
    assert died.returncode == 9

    successor = Spool(tmp_path)
    assert successor.adopt_orphans() == [b'{"request_id": "%d"}' % i for i in (1, 2, 3)]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [successor.path.name, successor.path.with_suffix(".offset").name]
    )


def test_a_caught_up_spool_is_emptied_and_removed_on_close(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    events = [b'{"n": 1}', b'{"n": 2}']
    for event in events:
        spool.append(event)
    spool.mark_sent(events)
    assert spool.path.stat().st_size == 0
    spool.close()
    assert list(tmp_path.iterdir()) == []


WRITER_THAT_COMPACTS_THEN_DIES = """
import os, sys
from pathlib import Path
from mlpatterns_server.predlog import spool as spooling
spooling.COMPACT_BYTES = 200
spool = spooling.Spool(Path(sys.argv[1]))
events = [b'{"request_id": "%d", "pad": "%s"}' % (i, b"x" * 40) for i in range(20)]
for event in events:
    spool.append(event)
spool.mark_sent(events[:8])  # past COMPACT_BYTES: the file keeps only the 12 unsent events
print(spool.path.stat().st_size)
os._exit(9)
"""


def test_a_sink_that_never_catches_up_does_not_grow_the_spool(tmp_path: Path) -> None:
    died = subprocess.run([sys.executable, "-c", WRITER_THAT_COMPACTS_THEN_DIES, str(tmp_path)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert died.returncode == 9, died.stderr
    event_size = len(b'{"request_id": "10", "pad": "' + b"x" * 40 + b'"}') + 1
    assert int(died.stdout) <= 12 * event_size
    successor = Spool(tmp_path)
    adopted = successor.adopt_orphans()
    assert [event.split(b'"')[3] for event in adopted] == [str(i).encode() for i in range(8, 20)]
    assert list(tmp_path.glob("*.tmp")) == []
    successor.close()
