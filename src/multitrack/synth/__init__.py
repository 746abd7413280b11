"""Synthetic editors' archives: editor profiles, the styles they cut in, and the corpus.

`profiles` draws editor profiles, `styles` cuts one timeline in a style, `builder` turns
a draft into a `Timeline` in Premiere's units, and `corpus` writes them as xmeml with
`synth.json`. Torch-free, like `timeline/`, which it builds on.

    from multitrack.synth import synth_corpus
    synth_corpus("corpus", timelines=110, seed=0, editors=12)
"""

from multitrack.synth.corpus import SynthReport, SynthTimeline, synth_corpus, synth_timeline
from multitrack.synth.profiles import STYLES, EditorProfile, draw_profiles

__all__ = ["STYLES", "EditorProfile", "SynthReport", "SynthTimeline", "draw_profiles", "synth_corpus", "synth_timeline"]
