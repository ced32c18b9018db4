"""hub: a plugin-based integration hub for municipal e-government.

The public API for plugin authors is re-exported here, flat: everything a plugin needs comes
from ``hub`` (and ``hub.testing`` in its tests). ``hub.core`` and underscore modules are private
and may change; a test keeps the bundled plugins to this surface. Names that pull in the server
stack, the database or lxml are imported on first use, so ``import hub`` stays light.
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
    Notifications,
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
    "Notifications",
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


# name -> (module, attribute): the public names that are imported on first use.
_LAZY = {
    "Hub": ("hub.core.hub", "Hub"),
    "Store": ("hub.core.store", "Store"),
    "StagedFile": ("hub.core.attachments", "StagedFile"),
    "utcnow": ("hub.core.store", "utcnow"),
    "UtcDateTime": ("hub.core.store.schema", "UtcDateTime"),
    "upgrade_schema": ("hub.core.store.migrate", "upgrade"),
    "migration_env": ("hub.core.store.migrate", "run_env"),
    "ClientConfig": ("hub.core.config", "ClientConfig"),
    "resolve_secret": ("hub.core.config", "resolve_secret"),
    "Secret": ("hub.core.secrets", "Secret"),
    "PluginState": ("hub.core.state", "PluginState"),
    "FollowUp": ("hub.core.hub", "FollowUp"),
    "AttachmentBackend": ("hub.core.attachments", "AttachmentBackend"),
    # Booking systems (appointments): the contract and its refusals.
    "AppointmentChange": ("hub.core.booking", "AppointmentChange"),
    "EinsatzPlan": ("hub.core.booking", "EinsatzPlan"),
    "SimulatedClock": ("hub.core.clock", "SimulatedClock"),
    "Booking": ("hub.core.booking", "Booking"),
    "BookingCatalogue": ("hub.core.booking", "BookingCatalogue"),
    "BookingContact": ("hub.core.booking", "BookingContact"),
    "BookingError": ("hub.core.booking", "BookingError"),
    "BookingField": ("hub.core.booking", "BookingField"),
    "BookingOffice": ("hub.core.booking", "BookingOffice"),
    "BookingService": ("hub.core.booking", "BookingService"),
    "BookingSystem": ("hub.core.booking", "BookingSystem"),
    "NotCancellable": ("hub.core.booking", "NotCancellable"),
    "NotEligible": ("hub.core.booking", "NotEligible"),
    "SlotTaken": ("hub.core.booking", "SlotTaken"),
    "UnknownBooking": ("hub.core.booking", "UnknownBooking"),
    "RegisterBookingSystem": ("hub.core.booking", "RegisterBookingSystem"),
    # Pages in the staff console.
    "ConsolePage": ("hub.core.console.pages", "ConsolePage"),
    "ConsoleView": ("hub.core.console.pages", "ConsoleView"),
    "console_view": ("hub.core.console.routes", "console_view"),
    # Typed protocols of what plugins provide and of the registration callbacks.
    "Adapter": ("hub.core.registry", "Adapter"),
    "IntakeChannel": ("hub.core.registry", "Channel"),  # hub.Channel is the record field
    "Poller": ("hub.core.registry", "Poller"),
    "Service": ("hub.core.registry", "Service"),
    "RegisterAdapter": ("hub.core.registry", "RegisterAdapter"),
    "RegisterChannel": ("hub.core.registry", "RegisterChannel"),
    "RegisterPoller": ("hub.core.registry", "RegisterPoller"),
    "RegisterEnricher": ("hub.core.registry", "RegisterEnricher"),
    "RegisterIdentityProvider": ("hub.core.registry", "RegisterIdentityProvider"),
    "RegisterPayloadSchema": ("hub.core.registry", "RegisterPayloadSchema"),
    "RegisterRoute": ("hub.core.registry", "RegisterRoute"),
    "RegisterTables": ("hub.core.registry", "RegisterTables"),
    "RegisterService": ("hub.core.registry", "RegisterService"),
    "RegisterAttachmentBackend": ("hub.core.registry", "RegisterAttachmentBackend"),
    "RegisterStatuses": ("hub.core.registry", "RegisterStatuses"),
    "RegisterSettings": ("hub.core.registry", "RegisterSettings"),
    "require_client": ("hub.core.auth", "require_client"),
    "may_act_for": ("hub.core.auth", "may_act_for"),
    "parse_settings": ("hub.adapters._settings", "parse_settings"),
    "parse_xml": ("hub.core.xmlsafe", "parse_xml"),
    "XmlRejected": ("hub.core.xmlsafe", "XmlRejected"),
    "parse_json_object": ("hub.core.jsonbody", "parse_json_object"),
    "problem": ("hub.core.problems", "problem"),
    "from_rejection": ("hub.core.problems", "from_rejection"),
    "field_problems": ("hub.core.problems", "field_problems"),
    "retry_after": ("hub.core.http", "retry_after"),
    "raise_for_status": ("hub.core.http", "raise_for_status"),
    "transport_errors": ("hub.core.http", "transport_errors"),
    "TlsSettings": ("hub.core.http", "TlsSettings"),
    "pass_hub": ("hub.core.cli", "pass_hub"),
    "rejection_error": ("hub.core.cli", "rejection_error"),
    "BackgroundServer": ("hub.core.background", "BackgroundServer"),
    "PeriodicTask": ("hub.core.background", "PeriodicTask"),
}
__all__ += sorted(_LAZY.keys() - set(__all__))


def __getattr__(name: str):
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'hub' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(found[0]), found[1])
    globals()[name] = value  # once imported, a plain attribute
    return value
