import pytest
from hypothesis import given
from hypothesis import strategies as st

from multitrack.data.split import SPLITS, assign_splits, check_fractions, fixed_splits, split_counts
from multitrack.errors import ConfigError


@pytest.mark.parametrize(
    ("groups", "fractions", "expected"),
    [
        (10, [0.8, 0.1, 0.1], (8, 1, 1)),
        (5, [0.8, 0.1, 0.1], (3, 1, 1)),  # 4/0.5/0.5 rounds to 4/1/0; test still gets one
        (3, [0.8, 0.1, 0.1], (1, 1, 1)),
        (2, [0.8, 0.1, 0.1], (1, 1, 0)),  # not enough groups for all three: train, then val
        (1, [0.8, 0.1, 0.1], (1, 0, 0)),
        (0, [0.8, 0.1, 0.1], (0, 0, 0)),
        (10, [1, 0, 0], (10, 0, 0)),
        (7, [6, 2, 2], (4, 2, 1)),  # fractions are scaled to sum to 1
    ],
)
def test_split_counts(groups, fractions, expected):
    assert split_counts(groups, fractions) == expected


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ([0.8, 0.2], "expected 3 fractions"),
        ([0.8, -0.1, 0.3], "must be finite and >= 0"),
        ([0, 0.5, 0.5], "train fraction"),
    ],
)
def test_bad_fractions(fractions, message):
    with pytest.raises(ConfigError, match=message):
        check_fractions(fractions)


ids = st.lists(st.text("abcdef/", min_size=1, max_size=6), min_size=1, max_size=40, unique=True)


@given(ids=ids, seed=st.integers(0, 2**32 - 1), n_groups=st.integers(1, 6))
def test_groups_never_straddle_splits(ids, seed, n_groups):
    groups = {tid: f"editor{sum(map(ord, tid)) % n_groups}" for tid in ids}
    assignment = assign_splits(ids, [0.6, 0.2, 0.2], seed, groups)
    assert set(assignment) == set(ids) and set(assignment.values()) <= set(SPLITS)
    split_of_group = {}
    for tid, split in assignment.items():
        assert split_of_group.setdefault(groups[tid], split) == split
    per_split = [len({g for g, s in split_of_group.items() if s == name}) for name in SPLITS]
    assert tuple(per_split) == split_counts(len(split_of_group), [0.6, 0.2, 0.2])


@given(ids=ids, seed=st.integers(0, 1000))
def test_assignment_depends_only_on_ids_and_seed(ids, seed):
    assert assign_splits(ids, [0.8, 0.1, 0.1], seed) == assign_splits(list(reversed(ids)), [0.8, 0.1, 0.1], seed)


def test_seed_changes_the_assignment():
    ids = [f"t{i:02d}" for i in range(30)]
    assert assign_splits(ids, [0.5, 0.25, 0.25], 0) != assign_splits(ids, [0.5, 0.25, 0.25], 1)


# --- data.assign -------------------------------------------------------------------------------

EDITS = [f"editor{e:02d}/session{s}" for e in range(1, 7) for s in range(1, 4)]
FOLDERS = {tid: {"folder": tid.split("/")[0], "session": tid.split("/")[1]} for tid in EDITS}
BY_EDITOR = {tid: FOLDERS[tid]["folder"] for tid in EDITS}


def test_assign_holds_out_whole_editors_and_one_session_of_the_others():
    assign = {"folder=editor0[1-3]": "test", "editor0[4-6]/session1": "test"}
    by_session = {tid: tid for tid in EDITS}  # split_by: each session its own group
    fixed = fixed_splits(assign, EDITS, FOLDERS, by_session)
    splits = assign_splits(EDITS, [0.9, 0.1, 0.0], 0, by_session, fixed)
    assert [t for t in EDITS if splits[t] == "test"] == [
        *(f"editor0{e}/session{s}" for e in (1, 2, 3) for s in (1, 2, 3)),
        *(f"editor0{e}/session1" for e in (4, 5, 6)),
    ]
    assert {splits[t] for t in EDITS if splits[t] != "test"} <= {"train", "val"}


def test_assign_applies_to_whole_groups():
    fixed = fixed_splits({"editor02/session2": "val"}, EDITS, FOLDERS, BY_EDITOR)
    assert fixed == {"editor02": "val"}
    splits = assign_splits(EDITS, [0.8, 0.1, 0.1], 3, BY_EDITOR, fixed)
    assert {splits[f"editor02/session{s}"] for s in (1, 2, 3)} == {"val"}


@pytest.mark.parametrize(
    ("assign", "message"),
    [
        ({"editor09/*": "test"}, "pattern 'editor09/\\*' matches no timeline"),
        ({"folder=nobody": "test"}, "matches no timeline"),
        ({"editor01/*": "holdout"}, "expected one of train, val, test"),
        ({"editor01/session1": "test", "folder=editor01": "val"}, "sent to test by 'editor01/session1'"),
        ({"editor=editor01": "test"}, "has no manifest field 'editor'"),
    ],
)
def test_assign_errors_name_the_pattern(assign, message):
    with pytest.raises(ConfigError, match=message):
        fixed_splits(assign, EDITS, FOLDERS, BY_EDITOR)


def test_assign_is_read_from_the_config():
    from multitrack.config import load_config

    config = load_config(overrides=['data.assign={"folder=editor0[1-3]": test}'])
    assert config.data.assign == {"folder=editor0[1-3]": "test"}
    with pytest.raises(ConfigError, match="data.assign"):
        load_config(overrides=["data.assign=[test]"])
