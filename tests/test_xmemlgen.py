"""The test builder xmemlgen: its conventions, and that what it builds reads as the reader expects."""

from __future__ import annotations

import pytest
from lxml import etree

from multitrack.timeline.model import Rate
from xmemlgen import (
    clipitem,
    document,
    file_def,
    generatoritem,
    motion,
    param,
    point,
    rate,
    sequence,
    track,
    transition,
)


def test_none_leaves_an_element_out_and_empty_writes_it_empty():
    assert rate(25, None) == "<rate><timebase>25</timebase></rate>"
    assert rate(25, "") == "<rate><timebase>25</timebase><ntsc/></rate>"
    assert rate(30, True) == "<rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>"
    assert track(enabled=None) == "<track/>"
    assert "<start>" not in clipitem(None, 10, 0, 10)


def test_values_are_written_as_given_not_escaped():
    assert "<name>a&#13;b</name>" in clipitem(0, 5, name="a&#13;b")
    assert "<start> 5 </start>" in clipitem(" 5 ", 10, 0, 5)


def test_out_defaults_to_in_plus_the_clip_length():
    assert "<in>100</in><out>150</out>" in clipitem(10, 60, 100)
    with pytest.raises(ValueError):
        clipitem("ten", 60)  # a non-numeric edge needs an explicit out


def test_document_lines_bom_and_codec():
    text = document(sequence(track()), sequence(track(), id="sequence-2"))
    lines = text.split("\n")
    assert lines[:3] == ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE xmeml>", '<xmeml version="4">']
    assert lines[3].startswith('<sequence id="sequence-1">') and lines[4].startswith('<sequence id="sequence-2">')
    assert lines[5:] == ["</xmeml>", ""]
    assert document(bom=True, codec="utf-8").startswith(b"\xef\xbb\xbf<?xml")
    assert document(encoding="UTF-16", bom=True, codec="utf-16-le").startswith(b"\xff\xfe<\x00")
    one_line = document(declaration=None, doctype=None, sep="")
    assert one_line == '<xmeml version="4"></xmeml>\n'


def test_a_built_document_is_well_formed_and_reads_back(read):
    center = param("center", point(0.1, 0), [(0, point(0, 0)), (10, point(0.2, 0))])
    clip = clipitem(0, -1, 0, 30, file_def(width=3840, height=2160), filters=motion(param("scale", 50), center))
    video = track(clip, transition(20, 30), clipitem(-1, 60, 0, 30), generatoritem(60, 70, name="Slug"))
    text = document(sequence(video, name="interview", duration=70, rate=rate(30, True)))
    etree.fromstring(text.encode())  # well-formed
    [timeline] = read(text)
    assert (timeline.name, timeline.rate, timeline.duration_frames) == ("interview", Rate(30, True), 70)
    clips = timeline.video_tracks[0].clips
    assert [(c.start_frame, c.end_frame) for c in clips] == [(0, 30), (20, 60), (60, 70)]
    assert clips[0].motion.scale.value == 50 and clips[0].motion.center_x.at(5) == pytest.approx(0.1)
    assert timeline.assets["file-1"].width_px == 3840
