"""`multitrack cut`: a synced multicam stack in, the edit out (stack, hearing, edit, cut)."""
