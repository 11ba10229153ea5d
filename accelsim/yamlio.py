"""Reading YAML input files safely: one loader for presets, energy tables and sweep specs.

On top of PyYAML's safe loader (no object construction), :func:`load_yaml_file` refuses, with a
one-line :class:`ConfigError` naming the file and where possible the line:

* files over :data:`MAX_YAML_BYTES`, directories, unreadable or non-UTF-8 files;
* duplicate keys in one mapping (PyYAML keeps the last one silently);
* more than :data:`MAX_ALIASES` alias references or more than :data:`MAX_EXPANDED_NODES` nodes once
  aliases are expanded (a "billion laughs" bomb turns a few hundred bytes into gigabytes as soon
  as anything walks it), and recursive aliases (an anchor used inside itself);
* documents nested deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError

MAX_YAML_BYTES = 1 << 20  # 1 MiB: the largest shipped YAML file is a few KB
MAX_ALIASES = 64
MAX_DEPTH = 32
MAX_EXPANDED_NODES = 100_000  # nodes after alias expansion (the shipped presets have a few hundred)


class _Loader(yaml.SafeLoader):
    pass


def _compose_node(self, parent, index):
    if self.check_event(yaml.AliasEvent):
        self._aliases = getattr(self, "_aliases", 0) + 1
        if self._aliases > MAX_ALIASES:
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"more than {MAX_ALIASES} alias references (line {mark.line + 1})")
        anchor = self.peek_event().anchor
        if anchor in getattr(self, "_open_anchors", set()):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"recursive alias *{anchor} (line {mark.line + 1})")
    depth = getattr(self, "_depth", 0) + 1
    if depth > MAX_DEPTH:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
    self._depth = depth
    ev = self.peek_event()
    anchor = getattr(ev, "anchor", None) if not isinstance(ev, yaml.AliasEvent) else None
    opened = getattr(self, "_open_anchors", set())
    self._open_anchors = opened | ({anchor} if anchor else set())
    try:
        return yaml.SafeLoader.compose_node(self, parent, index)
    finally:
        self._depth = depth - 1
        self._open_anchors = opened


def _expanded_size(node, memo: dict) -> int:
    """Node count of the document with every alias expanded (memoised, so computing it is cheap)."""
    k = id(node)
    if k not in memo:
        memo[k] = 0  # recursion guard (recursive aliases are refused earlier)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(_expanded_size(c, memo) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(_expanded_size(a, memo) + _expanded_size(b, memo) for a, b in node.value)
        else:
            n = 1
        memo[k] = min(n, MAX_EXPANDED_NODES + 1)
    return memo[k]


def _compose_document(self):
    node = yaml.SafeLoader.compose_document(self)
    if node is not None and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
        raise yaml.YAMLError(f"more than {MAX_EXPANDED_NODES} nodes once aliases are expanded")
    return node


def _construct_mapping(self, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = self.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.YAMLError(f"unhashable mapping key (line {key_node.start_mark.line + 1})") from None
        if key in seen:
            raise yaml.YAMLError(f"duplicate key {key!r} (lines {seen[key] + 1} and {key_node.start_mark.line + 1})")
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(self, node, deep)


_Loader.compose_node = _compose_node
_Loader.compose_document = _compose_document
_Loader.construct_mapping = _construct_mapping
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                        lambda loader, node: loader.construct_mapping(node, deep=True))


def loads(text: str, file: str | None = None):
    """Parse YAML text with the checks above; errors name ``file``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 -- _Loader derives from SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"malformed YAML{where}: {what}", file=file) from None
    except RecursionError:
        raise ConfigError("malformed YAML: nested too deeply", file=file) from None


def load_yaml_file(path: str | Path):
    """The parsed content of a YAML file, or a one-line ConfigError naming the file."""
    p = Path(path)
    f = str(p)
    if p.is_dir():
        raise ConfigError("is a directory, expected a YAML file", file=f)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise ConfigError(f"cannot read ({e.strerror})", file=f) from None
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"file is {size} bytes, over the {MAX_YAML_BYTES}-byte limit for YAML inputs", file=f)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", file=f) from None
    except OSError as e:
        raise ConfigError(f"cannot read ({e.strerror})", file=f) from None
    return loads(text, f)
