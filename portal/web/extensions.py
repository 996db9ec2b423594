"""The Flask extensions the blueprints share, created here and bound by `create_app`.

Blueprints import them from this module, never from the package that builds the app.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect

# Every limit of the portal is per view (the submissions, follow-up messages, the forms'
# posts and the staff sign-in), counted per client address.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
csrf = CSRFProtect()
