"""Finding media from pathurls (features/media.py): URL decoding, --media-root, --media-dir, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from multitrack.errors import ConfigError
from multitrack.features.media import MediaFinder, MediaRoot, parse_media_root, url_path


@pytest.mark.parametrize(
    ("pathurl", "path"),
    [
        ("file://localhost/Volumes/Media/a%20b%C3%A6.wav", "/Volumes/Media/a bæ.wav"),
        ("file://localhost/D%3a/media/cam.mov", "D:/media/cam.mov"),  # otio/premiere_example.xml
        ("file://localhost/C:/Users/ed/x.wav", "C:/Users/ed/x.wav"),
        ("file:///C:/Users/ed/x.wav", "C:/Users/ed/x.wav"),
        ("file:///home/ed/x.wav", "/home/ed/x.wav"),
        ("file://nas/share/x.wav", "//nas/share/x.wav"),
        ("file://localhost/omfs/clips/x%23y.aif", "/omfs/clips/x#y.aif"),
        ("media/x.wav", "media/x.wav"),
        ("C:\\media\\x.wav", "C:/media/x.wav"),
    ],
)
def test_url_path_decodes_every_form(pathurl, path):
    assert url_path(pathurl) == path


def test_media_root_rewrites_a_prefix_on_a_component_boundary():
    root = parse_media_root("/Volumes/Media=/mnt/m")
    assert root == MediaRoot("/Volumes/Media", "/mnt/m")
    assert root.rewrite("/Volumes/Media/day1/a.wav") == "/mnt/m/day1/a.wav"
    assert root.rewrite("/Volumes/MediaX/a.wav") is None
    assert parse_media_root("file://localhost/D%3a/media=/data").rewrite("D:/media/a.wav") == "/data/a.wav"
    for bad in ("/Volumes", "=/x", "/x="):
        with pytest.raises(ConfigError, match="OLD=NEW"):
            parse_media_root(bad)


def test_finder_rewrites_then_looks_by_name_then_gives_up(tmp_path):
    here = tmp_path / "disk" / "day1"
    here.mkdir(parents=True)
    (here / "mic 1.wav").write_bytes(b"x")
    elsewhere = tmp_path / "dump" / "b" / "cam.mov"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"x")
    (tmp_path / "dump" / "a").mkdir()
    (tmp_path / "dump" / "a" / "cam.mov").write_bytes(b"x")  # first by sorted path
    finder = MediaFinder.of(roots=[f"/Volumes/Rec={tmp_path / 'disk'}"], dirs=[tmp_path / "dump"])
    xml_folder = tmp_path / "edits"
    assert finder.find("file://localhost/Volumes/Rec/day1/mic%201.wav", xml_folder) == here / "mic 1.wav"
    assert finder.find("file://localhost/C:/cams/cam.mov", xml_folder) == tmp_path / "dump" / "a" / "cam.mov"
    assert finder.find("file://localhost/Volumes/Other/gone.wav", xml_folder) is None
    assert finder.find(None, xml_folder) is None
    assert MediaFinder().find("file://localhost/Volumes/Rec/day1/mic%201.wav", xml_folder) is None


def test_relative_paths_resolve_against_the_xmeml_folder(tmp_path):
    (tmp_path / "sound").mkdir()
    (tmp_path / "sound" / "a.wav").write_bytes(b"x")
    assert MediaFinder().find("sound/a.wav", tmp_path) == tmp_path / "sound" / "a.wav"
    assert MediaFinder().find("sound/a.wav", tmp_path / "elsewhere") is None


def test_a_first_matching_root_wins(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x.wav").write_bytes(b"x")
    finder = MediaFinder.of(roots=[f"/V/A={tmp_path / 'one'}", f"/V={tmp_path / 'two'}"])
    assert finder.find("file://localhost/V/A/x.wav", Path("/")) == tmp_path / "one" / "x.wav"


def test_decomposed_unicode_as_macos_writes_it_finds_a_composed_name(tmp_path):
    (tmp_path / "Gr\u00e5.wav").write_bytes(b"x")  # å composed (NFC), as a copy on Linux may hold it
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "L\u00f8p\u00e5.wav").write_bytes(b"x")
    decomposed = "file://localhost" + str(tmp_path) + "/Gra%CC%8A.wav"  # a + combining ring, as Premiere on macOS
    assert MediaFinder().find(decomposed, tmp_path) == tmp_path / "Gr\u00e5.wav"
    finder = MediaFinder.of(dirs=[tmp_path / "dump"])
    assert (
        finder.find("file://localhost/Volumes/X/L%C3%B8pa%CC%8A.wav", tmp_path)
        == tmp_path / "dump" / "L\u00f8p\u00e5.wav"
    )
