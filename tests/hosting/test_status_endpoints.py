"""``sagestack status`` against a server hosting an endpoint: the endpoint, its instances and their pids."""

from __future__ import annotations

import json
import subprocess
import sys

from hosting_support import worker_processes


def test_status_lists_endpoint_instances(hosting):
    hosting.script_model("status-model", tag="status")
    hosting.config("status-config", [("AllTraffic", "status-model", 1.0, 2)])
    try:
        desc = hosting.endpoint("status-ep", "status-config")
        assert desc["EndpointStatus"] == "InService", desc
        data_dir = str(hosting.server.data_dir)
        done = subprocess.run(
            [sys.executable, "-m", "sagestack", "status", "--data-dir", data_dir, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        [endpoint] = [e for e in status["endpoints"] if e["name"] == "status-ep"]
        assert endpoint["status"] == "InService" and list(endpoint["variants"]) == ["AllTraffic"]
        instances = endpoint["variants"]["AllTraffic"]
        assert [i["state"] for i in instances] == ["ready", "ready"]
        assert {i["pid"] for i in instances} <= {pid for pid, _ in worker_processes("status-ep")}
        text = subprocess.run(
            [sys.executable, "-m", "sagestack", "status", "--data-dir", data_dir],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        assert "  status-ep InService\n    AllTraffic: 2 instances (ready pid " in text
    finally:
        hosting.delete("status-ep")
