"""YAML for the files people write (protocols, scoring configuration): safe, and strict
about mapping keys.

:func:`load_yaml` is ``yaml.safe_load`` except that

* a key given twice in one mapping is an error (PyYAML keeps the last silently), raised
  as a :class:`yaml.YAMLError` that names the key and its line;
* numbers in exponent form without a dot (``1e6``, ``2E-3``) are numbers, as in YAML 1.2
  (PyYAML follows YAML 1.1 and reads them as text); ``1e400`` reads as ``inf``, which
  the validators then refuse as not finite.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<``: merged keys may repeat
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if duplicate:
                line = key_node.start_mark.line + 1
                raise ConstructorError(None, None, f"duplicate key {key!r} at line {line}")
        return super().construct_mapping(node, deep=deep)


_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789")
)


def load_yaml(text: str) -> Any:
    """Parse YAML text like ``yaml.safe_load``; a duplicated mapping key is an error."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
