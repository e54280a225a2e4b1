"""Two binlog readers with one server id kick each other off the source: a stream's id is claimed
machine-wide, refused to a second claimant in this process or another, and freed when its holder
ends, even by kill -9."""

import subprocess
import sys

import pytest

from resources.cdc.source import claim, release
from resources.cdc.stream import StreamConfigError
from resources.services.mariadb import Credentials

SOURCE = Credentials("cdc", "secret", "127.0.0.1", 3999)
HOLD = ("import sys; from resources.cdc.source import claim; from resources.services.mariadb "
        "import Credentials; claim(7101, 'held elsewhere', Credentials('cdc', 's', '127.0.0.1', 3999));"
        " print('claimed', flush=True); sys.stdin.read()")


def test_an_id_claimed_by_another_process_is_refused_until_that_process_dies():
    other = subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "claimed"
        with pytest.raises(StreamConfigError, match=rf"server_id 7101 is in use by process "
                                                    rf"{other.pid} \(.*python.*reading source "
                                                    rf"127\.0\.0\.1:3999; .*stream config server_id"):
            claim(7101, "this stream", SOURCE)
        claim(7101, "this stream", Credentials("cdc", "s", "127.0.0.1", 4000))  # another source
        release(7101, "this stream")
    finally:
        other.kill()
        other.wait()
    claim(7101, "this stream", SOURCE)  # the kernel dropped the dead holder's claim
    try:
        with pytest.raises(StreamConfigError, match="server_id 7101 is in use by this stream"):
            claim(7101, "a second stream", SOURCE)  # and within one process, named
    finally:
        release(7101, "this stream")
    claim(7101, "again", SOURCE)
    release(7101, "again")
