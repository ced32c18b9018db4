"""hub: a plugin-based integration hub for municipal e-government.

The public API for plugin authors is re-exported here, flat.
"""

__version__ = "0.1.0"

from hub.core.context import CheckContext, DeliveryContext, EnrichContext
from hub.core.errors import (
    AdapterError,
    ConfigurationError,
    Conflict,
    FieldProblem,
    HubError,
    IntakeRejected,
    PermanentError,
    TransientError,
)
from hub.core.hookspecs import hookimpl, hookspec
from hub.core.record import (
    Address,
    Applicant,
    Attachment,
    Authority,
    Channel,
    Identity,
    Location,
    Municipality,
    Record,
    RecordStatus,
    Service,
    Submission,
    TrustLevel,
)
from hub.core.registry import IdentityClaim

__all__ = [
    "AdapterError",
    "Address",
    "Applicant",
    "Attachment",
    "Authority",
    "Channel",
    "CheckContext",
    "ConfigurationError",
    "Conflict",
    "DeliveryContext",
    "EnrichContext",
    "FieldProblem",
    "Hub",
    "HubError",
    "Identity",
    "IdentityClaim",
    "IntakeRejected",
    "Location",
    "Municipality",
    "PermanentError",
    "Record",
    "RecordStatus",
    "Service",
    "Submission",
    "TransientError",
    "TrustLevel",
    "__version__",
    "hookimpl",
    "hookspec",
    "require_client",
]


def __getattr__(name: str):  # Hub and require_client pull in the server stack: import lazily
    if name == "Hub":
        from hub.core.hub import Hub

        return Hub
    if name == "require_client":
        from hub.core.auth import require_client

        return require_client
    raise AttributeError(name)
