from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tiangong.notices.alerts.metrics import RATE_METRICS, Metric

Comparator = Literal["gt", "gte", "lt", "lte"]
Severity = Literal["info", "warning", "critical"]
AlertState = Literal["firing", "acknowledged", "resolved"]
Outcome = Literal["fired", "cooldown", "not_met", "no_data"]
MAX_WINDOW_MINUTES = 7 * 24 * 60


def check_threshold(metric: str, threshold: float) -> None:
    if not math.isfinite(threshold) or abs(threshold) > 1e12:
        raise ValueError("threshold must be a finite number within ±1e12")
    if metric in RATE_METRICS and not 0 <= threshold <= 100:
        raise ValueError("a rate threshold is a percentage between 0 and 100")


class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    metric: Metric = Field(description="rates are percentages (0-100); latency in ms")
    comparator: Comparator = "gt"
    threshold: float
    window_minutes: int = Field(default=60, ge=1, le=MAX_WINDOW_MINUTES)
    cooldown_minutes: int = Field(default=60, ge=0, le=MAX_WINDOW_MINUTES)
    severity: Severity = "warning"
    enabled: bool = True

    @model_validator(mode="after")
    def _threshold_fits_metric(self) -> AlertRuleCreate:
        check_threshold(self.metric, self.threshold)
        return self


class AlertRuleUpdate(BaseModel):
    """Partial update: fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    metric: Metric | None = None
    comparator: Comparator | None = None
    threshold: float | None = None
    window_minutes: int | None = Field(default=None, ge=1, le=MAX_WINDOW_MINUTES)
    cooldown_minutes: int | None = Field(default=None, ge=0, le=MAX_WINDOW_MINUTES)
    severity: Severity | None = None
    enabled: bool | None = None

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None:
            check_threshold("", value)
        return value


class AlertRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    metric: str
    comparator: str
    threshold: float
    window_minutes: int
    cooldown_minutes: int
    severity: str
    enabled: bool
    last_evaluated_at: datetime | None
    last_value: float | None
    last_fired_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AlertRuleList(BaseModel):
    items: list[AlertRuleRead]
    total: int
    page: int
    page_size: int


class AlertLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str
    rule_name: str
    metric: str
    comparator: str
    threshold: float
    value: float
    severity: str
    state: str
    message: str
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime


class AlertLogList(BaseModel):
    items: list[AlertLogRead]
    total: int
    page: int
    page_size: int


class EvaluationResult(BaseModel):
    rule_id: str
    metric: str
    value: float | None
    comparator: str
    threshold: float
    window_minutes: int
    condition_met: bool
    outcome: Outcome
    alert: AlertLogRead | None
    resolved: int = Field(description="firing or acknowledged alerts of the rule now resolved")
