"""Provides the connectors: one module per platform behind `base.Connector`.

Connectors are found by name through the entry-point group `webcare_tui.connectors`,
so a third party can add a platform from its own package.
"""

from webcare_tui.connectors.base import (
    Capabilities,
    Connector,
    ConnectorError,
    FetchResult,
    OutgoingReply,
    SentReply,
    connector_class,
)

__all__ = ["Capabilities", "Connector", "ConnectorError", "FetchResult", "OutgoingReply", "SentReply", "connector_class"]
