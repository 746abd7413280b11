"""The xmeml format (FCP7 XML as Premiere, FCP7 and Resolve write it), both directions.

`document` parses safely and names elements in errors; `assets`, `effects` and `timing`
hold each element kind's and each time rule's reading and writing side by side;
`reader` and `writer` tell the two stories (../shared/docs/xmeml.md is the evidence).
"""

from multitrack.timeline.xmeml.reader import read_xmeml
from multitrack.timeline.xmeml.writer import write_xmeml, xmeml_bytes

__all__ = ["read_xmeml", "write_xmeml", "xmeml_bytes"]
