"""Writing F0401 files into Turnkey's SRC: whole or not at all, temporary files outside SRC."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from commerce_core.einvoice.turnkey import PARTIAL_DIR, TurnkeyFolders


def _everything_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_files_appear_whole_in_src_and_their_temporary_names_never_do(tmp_path):
    folders = TurnkeyFolders(tmp_path).create()
    folders.write_f0401_files([("F0401_12345675_AB00000001.xml", b"<a/>"), ("F0401_12345675_AB00000002.xml", b"<b/>")])
    folders.write_f0401("F0401_12345675_AB00000001.xml", b"<c/>")  # a rewrite replaces the file whole
    assert sorted(os.listdir(folders.src)) == ["F0401_12345675_AB00000001.xml", "F0401_12345675_AB00000002.xml"]
    assert (folders.src / "F0401_12345675_AB00000001.xml").read_bytes() == b"<c/>"
    assert _everything_under(tmp_path / PARTIAL_DIR) == []  # every temporary file was renamed away


def test_half_written_files_of_dead_processes_are_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    for pid in (dead, str(os.getpid())):
        (tmp_path / PARTIAL_DIR / pid).mkdir(parents=True)
        (tmp_path / PARTIAL_DIR / pid / "F0401_12345675_AB00000001.xml.1.tmp").write_bytes(b"<half")
    TurnkeyFolders(tmp_path).create()
    assert _everything_under(tmp_path / PARTIAL_DIR) == [f"{os.getpid()}/F0401_12345675_AB00000001.xml.1.tmp"]


def test_src_on_another_filesystem_than_the_root_is_written_within_src(tmp_path):
    with tempfile.TemporaryDirectory(dir="/dev/shm") as elsewhere:
        folders = TurnkeyFolders(tmp_path)
        folders.src.parent.mkdir(parents=True)
        folders.src.symlink_to(elsewhere)  # e.g. SRC mounted from another disk
        folders.create()
        assert os.stat(elsewhere).st_dev != os.stat(tmp_path).st_dev, "needs /dev/shm on another filesystem"
        folders.write_f0401_files([("F0401_12345675_AB00000001.xml", b"<a/>"),
                                   ("F0401_12345675_AB00000002.xml", b"<b/>")])
        assert sorted(os.listdir(elsewhere)) == ["F0401_12345675_AB00000001.xml", "F0401_12345675_AB00000002.xml"]
        assert Path(elsewhere, "F0401_12345675_AB00000001.xml").read_bytes() == b"<a/>"
        assert Path(elsewhere, "F0401_12345675_AB00000002.xml").read_bytes() == b"<b/>"
        assert _everything_under(tmp_path / PARTIAL_DIR) == []
