"""Platform webhooks (X account activity, Meta): verified before anything is accepted."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
