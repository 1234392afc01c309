"""`tokcheck export --force` never deletes the model it reads, however OUTDIR reaches it, and a
full file system is one line, with OUTDIR as it was and no staging directory left behind."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tokcheck.cli import main
from tokcheck.export import run as export_module

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _model_dir(tmp_path: Path) -> Path:
    source = tmp_path / "parent" / "model"
    shutil.copytree(FIXTURES / "tiny-neox", source)
    (source / "model.safetensors").write_bytes(b"weights")
    return source


@contextmanager
def _mounted(args: list[str], target: Path) -> Iterator[None]:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting needs root and mount(8)")
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount not permitted here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*argv, "--force", "--examples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tokcheck: error: ")
    return err


def test_a_bind_mount_of_the_model_parent_is_seen_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _model_dir(tmp_path)
    mount = tmp_path / "mnt"
    with _mounted(["--bind", str(source.parent)], mount):
        for outdir in (mount / "model", mount):
            err = _refused(["export", str(source), str(outdir)], capsys)
            assert "holds the model being exported" in err
        # And the other way round: the model read through the mount, OUTDIR by its real path.
        err = _refused(["export", str(mount / "model"), str(source)], capsys)
        assert "holds the model being exported" in err
    assert (source / "model.safetensors").read_bytes() == b"weights"


def test_a_symlinked_parent_is_seen_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _model_dir(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(source.parent, target_is_directory=True)
    for outdir in (source, source.parent):
        err = _refused(["export", str(link / "model"), str(outdir)], capsys)
        assert "holds the model being exported" in err
    err = _refused(["export", str(source), str(link / "model")], capsys)
    assert "holds the model being exported" in err
    assert (source / "model.safetensors").read_bytes() == b"weights"


@pytest.mark.parametrize("name", ["spiece.model", "model.safetensors"])
def test_a_hard_link_of_a_model_file_inside_outdir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    source = _model_dir(tmp_path)
    outdir = tmp_path / "out"
    (outdir / "deep").mkdir(parents=True)
    os.link(source / name, outdir / "deep" / name)
    err = _refused(["export", str(source), str(outdir)], capsys)
    assert "holds the model being exported" in err
    assert (outdir / "deep" / name).is_file()
    assert (source / "model.safetensors").read_bytes() == b"weights"


def test_an_unrelated_outdir_is_still_replaced_with_force(tmp_path: Path) -> None:
    source = _model_dir(tmp_path)
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "old.txt").write_text("old", encoding="utf-8")
    assert main(["export", str(source), str(outdir), "--force", "--examples", "0"]) == 0
    assert not (outdir / "old.txt").exists()
    assert (source / "model.safetensors").read_bytes() == b"weights"


def _assert_full_disk_handled(
    tmp_path: Path, outdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"tokcheck: error: {outdir}: cannot write the export: ")
    assert "No space left on device" in err
    assert "free space there" in err
    assert "unexpected" not in err
    assert [p.name for p in outdir.iterdir()] == ["keep.txt"]
    assert (outdir / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in outdir.parent.iterdir()) == ["exported"]


def test_a_full_file_system_is_one_line_and_outdir_survives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = export_module._write_json

    def full(path: Path, data: dict[str, object]) -> None:
        if path.name == "special_tokens_map.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(export_module, "_write_json", full)
    outdir = tmp_path / "parent" / "exported"
    outdir.mkdir(parents=True)
    (outdir / "keep.txt").write_text("mine", encoding="utf-8")
    argv = ["export", str(FIXTURES / "tiny-neox"), str(outdir), "--force", "--examples", "0"]
    _assert_full_disk_handled(tmp_path, outdir, capsys, argv)


def test_a_real_full_tmpfs_is_one_line_and_outdir_survives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 64 KiB: room for OUTDIR's one file, not for tokenizer.json (about 90 KiB here).
    mount = tmp_path / "tmpfs"
    with _mounted(["-t", "tmpfs", "-o", "size=64k", "tmpfs"], mount):
        outdir = mount / "exported"
        outdir.mkdir()
        (outdir / "keep.txt").write_text("mine", encoding="utf-8")
        argv = ["export", str(FIXTURES / "tiny-neox"), str(outdir), "--force", "--examples", "0"]
        _assert_full_disk_handled(tmp_path, outdir, capsys, argv)
