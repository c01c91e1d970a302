"""Small shared types."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
# A keyword argument that may be left out: ``group: Group | None | Unset = UNSET``.
Unset = Literal[_Unset.UNSET]
