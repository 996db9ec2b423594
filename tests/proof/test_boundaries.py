"""`portal.proof` stands alone: a verifier needs neither Flask nor SQLAlchemy nor MkDocs."""

from __future__ import annotations

import subprocess
import sys


def test_proof_imports_no_framework() -> None:
    code = (
        "import sys, portal.proof.keys, portal.proof.receipts, portal.proof.site,"
        " portal.proof.sealing; print(sorted({'flask', 'mkdocs', 'sqlalchemy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
