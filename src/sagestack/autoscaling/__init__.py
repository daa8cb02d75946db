"""Application Auto Scaling's engine: pure policy functions (:mod:`.policy`), the CloudWatch alarms target
tracking creates (:mod:`.alarms`) and the loop that turns alarms into capacity changes (:mod:`.loop`).

The API handlers live in :mod:`sagestack.services.autoscaling`.
"""
