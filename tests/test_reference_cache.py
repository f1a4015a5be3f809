"""The reference cache: read only for exactly the same inputs, and never a cause of failure."""

import importlib
import os
import sys
from dataclasses import replace

import pytest

from zoo.core import reference_cache
from zoo.core.registry import get_model

MODEL = get_model("single-coin")


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """single-coin with a counter on its reference, and the cache in a fresh folder."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path))
    calls = []
    original = type(MODEL).reference

    def reference(self, data, settings):
        calls.append(1)
        return original(self, data, settings)

    monkeypatch.setattr(type(MODEL), "reference", reference)
    settings = MODEL.parse_settings([])
    return calls, MODEL.default_data(settings), settings


def test_the_same_inputs_read_the_stored_reference(counted):
    calls, data, settings = counted
    first, source = reference_cache.reference(MODEL, data, settings)
    again, cached = reference_cache.reference(MODEL, data, settings)
    assert len(calls) == 1 and not source.cached and cached.cached
    assert again == first and "read from the cache" in cached.describe()
    # issue 23: a fresh clone "read from the cache" not knowing it is shared: say where it is
    where = str(reference_cache.folder())
    assert f"computed; stored in the reference cache {where}" in source.describe()
    assert f"read from the cache {where}" in cached.describe()
    # issue 23: the console's "(read from the cache (computed in ...))" nested its brackets;
    # the note sits in the console's own, so it has none of its own
    for note in (source.describe(), cached.describe()):
        assert "(" not in note and ")" not in note, note
    assert ", computed there in " in cached.describe()


def test_other_data_settings_or_code_compute_anew(counted, monkeypatch):
    calls, data, settings = counted
    reference_cache.reference(MODEL, data, settings)
    changed = data.copy()
    changed.iloc[0, 0] = 1 - changed.iloc[0, 0]
    reference_cache.reference(MODEL, changed, settings)
    reference_cache.reference(MODEL, data, MODEL.parse_settings(["prior=flat"]))
    monkeypatch.setattr(reference_cache, "code_fingerprint", lambda module: "edited")
    reference_cache.reference(MODEL, data, settings)
    assert len(calls) == 4


def test_a_damaged_entry_is_computed_again_and_replaced(counted, tmp_path):
    calls, data, settings = counted
    first, _ = reference_cache.reference(MODEL, data, settings)
    (entry,) = (tmp_path / "references").iterdir()
    entry.write_bytes(b"not a pickle")
    again, source = reference_cache.reference(MODEL, data, settings)
    assert not source.cached and again == first and len(calls) == 2
    assert reference_cache.reference(MODEL, data, settings)[1].cached


def test_an_unwritable_cache_costs_time_not_the_run(counted, tmp_path, monkeypatch):
    calls, data, settings = counted
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(blocked))  # its references/ cannot be made
    for _ in range(2):
        assert not reference_cache.reference(MODEL, data, settings)[1].cached
    assert len(calls) == 2


def test_off_neither_reads_nor_writes(counted, tmp_path, monkeypatch):
    calls, data, settings = counted
    monkeypatch.setenv("ZOO_CACHE_DIR", "off")
    for _ in range(2):
        assert not reference_cache.reference(MODEL, data, settings)[1].cached
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_a_run_says_where_its_reference_came_from(capsys, monkeypatch):
    from zoo.cli import main

    monkeypatch.setenv("ZOO_CACHE_DIR", os.environ["ZOO_CACHE_DIR"])  # restored: --no-cache sets it

    quick = ["--draws", "200", "--tune", "200", "--json"]
    for extra in ([], []):
        assert main(["verify", "single-coin", *quick, *extra]) in (0, 1)
    assert '"reference_source": "read from the cache' in capsys.readouterr().out
    assert main(["verify", "single-coin", *quick, "--no-cache"]) in (0, 1)
    assert '"reference_source": "computed"' in capsys.readouterr().out


def test_a_model_defined_in_main_is_never_cached(counted, monkeypatch):
    """Its code can change without a file changing (a notebook's cell)."""
    calls, data, settings = counted
    monkeypatch.setattr(type(MODEL), "__module__", "__main__")
    for _ in range(2):
        assert not reference_cache.reference(MODEL, data, settings)[1].cached
    assert len(calls) == 2


class ShiftedCoin(type(MODEL)):
    """single-coin whose reference moves by a constructor argument: its state decides it."""

    def __init__(self, shift):
        self.shift = shift

    def reference(self, data, settings):
        found = super().reference(data, settings)
        return replace(found, values={k: v + self.shift for k, v in found.values.items()})


def test_instances_differing_only_in_a_constructor_argument_get_their_own_reference(counted):
    _, data, settings = counted
    one, _ = reference_cache.reference(ShiftedCoin(0.0), data, settings)
    other, source = reference_cache.reference(ShiftedCoin(0.5), data, settings)
    assert not source.cached
    assert other.values["theta.mean"] == pytest.approx(one.values["theta.mean"] + 0.5)
    again, source = reference_cache.reference(ShiftedCoin(0.5), data, settings)
    assert source.cached and again == other


def test_an_instance_whose_state_cannot_be_hashed_is_not_cached_and_says_why(counted):
    calls, data, settings = counted
    coin = ShiftedCoin(0.0)
    coin.prior = lambda theta: 1.0  # a function's behaviour is not in its name
    for _ in range(2):
        _, source = reference_cache.reference(coin, data, settings)
        assert not source.cached
    assert len(calls) == 2
    assert "ShiftedCoin's attributes hold a function" in source.describe()


def test_a_reference_that_cannot_be_pickled_is_not_cached_and_says_why(counted, monkeypatch):
    _, data, settings = counted
    original = ShiftedCoin.reference
    monkeypatch.setattr(ShiftedCoin, "reference", lambda self, d, s: replace(
        original(self, d, s), alternatives={"x": lambda: 0}))
    _, source = reference_cache.reference(ShiftedCoin(0.0), data, settings)
    assert "not cached: the reference cannot be pickled" in source.describe()


def test_a_model_file_edited_and_reloaded_gets_a_fresh_reference(counted, tmp_path, monkeypatch):
    _, data, settings = counted
    folder = tmp_path / "usercode"
    folder.mkdir()
    source = folder / "edited_coin.py"
    text = ("from tests.test_reference_cache import ShiftedCoin\n"
            "class EditedCoin(ShiftedCoin):\n"
            "    def __init__(self):\n"
            "        self.shift = 0.0\n"
            "    def reference(self, data, settings):\n"
            "        return super().reference(data, settings)\n")
    source.write_text(text)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module("edited_coin")
    monkeypatch.setitem(sys.modules, "edited_coin", module)  # removed again after the test
    before, _ = reference_cache.reference(module.EditedCoin(), data, settings)
    source.write_text(text.replace("settings)\n", "settings).__class__(\n"
                                   "            'edited', {'theta.mean': 0.25})\n"))
    module = importlib.reload(module)
    after, where = reference_cache.reference(module.EditedCoin(), data, settings)
    assert not where.cached and after.values == {"theta.mean": 0.25} != before.values


def test_two_checkouts_of_the_same_code_share_the_key(tmp_path, monkeypatch):
    """The key hashed each source file's absolute path, so every clone (and worktree) of one
    commit computed every reference again (a clean-clone trial found gmm's 17 s each time).
    Now a file counts by its place in its package: the same files elsewhere, the same key;
    another file's content, another key."""
    text = "from tests.test_reference_cache import ShiftedCoin\nclass Moved(ShiftedCoin):\n    pass\n"
    keys = []
    for folder, body in (("a", text), ("b", text), ("c", text + "# edited\n")):
        package = tmp_path / folder / "moved_model"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(body)
        monkeypatch.syspath_prepend(str(tmp_path / folder))
        monkeypatch.delitem(sys.modules, "moved_model", raising=False)
        keys.append(reference_cache.code_fingerprint(importlib.import_module("moved_model").Moved))
        sys.path.remove(str(tmp_path / folder))  # the next folder's package is found instead
    monkeypatch.delitem(sys.modules, "moved_model", raising=False)
    assert keys[0] == keys[1] != keys[2]
