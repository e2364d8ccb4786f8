"""Provides the domain's plain value types: messages, case statuses, directions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, get_args


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class CaseStatus(StrEnum):
    NEW = "new"  # nobody owns it
    OPEN = "open"  # an owner works on it
    PENDING = "pending"  # we replied last, waiting for the customer
    AWAITING_APPROVAL = "awaiting_approval"  # a draft waits for a lead
    CLOSED = "closed"


AuthorType = Literal["customer", "press", "influencer", "employee", "bot", "partner"]
AUTHOR_TYPES = frozenset(get_args(AuthorType))


@dataclass(slots=True)
class Message:
    """One post, comment, reply or private message in the normalized format.

    `created_at` is seconds since the epoch (UTC). For an outbound message the
    author fields name the customer it was sent to, so it threads into their case.
    Author fields that are None are unknown and never overwrite what we know.
    """

    platform: str
    account: str
    external_id: str
    author_id: str
    text: str
    created_at: int
    direction: str  # a Direction value
    visibility: str  # a Visibility value
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_type: str | None = None
    in_reply_to: str | None = None
    agent: str | None = None
    url: str | None = None
    language: str | None = None
    sentiment: float | None = None
