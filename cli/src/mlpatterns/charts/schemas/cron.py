"""What every CronJob chart's values have: the schedule and the Job's retries, deadlines and history."""

from __future__ import annotations

from mlpatterns.charts.schemas.core import Schema, boolean, integer, obj, string

CRON = r"^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$"


def schedule() -> dict[str, Schema]:
    return {
        "schedule": string("five-field cron", pattern=CRON),
        "timeZone": string(),
        "suspend": boolean(),
        "job": obj(
            {
                "backoffLimit": integer(0, 10),
                "activeDeadlineSeconds": integer(60),
                "ttlSecondsAfterFinished": integer(0),
                "startingDeadlineSeconds": integer(10),
                "successfulJobsHistoryLimit": integer(0, 100),
                "failedJobsHistoryLimit": integer(1, 100),
            }
        ),
    }
