"""Words that name a document of Art. 53(1)(c)-(d) become links to it, wherever they are written.

A change summary written by the legal team ("the public summary of training content added")
names a document; the page that prints it must let the reader open that document, so the
site never claims one it does not have. A name whose document does not exist stays plain text,
and the site test that checks every claim fails on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

COPYRIGHT_POLICY = "copyright-policy"
TRAINING_CONTENT = "training-content"
NAMES: dict[str, re.Pattern[str]] = {
    COPYRIGHT_POLICY: re.compile(r"\bcopyright policy\b", re.IGNORECASE),
    TRAINING_CONTENT: re.compile(
        r"\bsummar(?:y|ies) of (?:the )?(?:training content|content used (?:for|to train))",
        re.IGNORECASE,
    ),
}


def link_names(text: str, targets: Mapping[str, str | None], link: Callable[[str], str]) -> str:
    """`text` (already safe Markdown) with each document name linked to its page in `targets`."""
    for kind, pattern in NAMES.items():
        target = targets.get(kind)
        if target is not None:
            text = pattern.sub(rf"[\g<0>]({link(target)})", text)
    return text
