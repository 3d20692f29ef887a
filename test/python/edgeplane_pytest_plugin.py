"""pytest plugin (-p edgeplane_pytest_plugin) that runs python3-kubernetes' live-cluster tests against edgeplane.

Debian's package ships kubernetes/dynamic/test_*.py but not the kubernetes.e2e_test.base they import;
this provides it, pointed at the kubeconfig in $KUBECONFIG, and writes every test's outcome as JSON
to $EDGEPLANE_PYTEST_REPORT for test/e2e/python-kubernetes.test.ts.
"""
import json
import os
import sys
import types

from kubernetes import client, config


def get_e2e_configuration():
    """The upstream helper's contract: a client Configuration for the cluster under test (host, bearer token, CA file)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=os.environ["KUBECONFIG"], client_configuration=configuration)
    return configuration


# Registered in sys.modules, so Debian's files stay untouched.
base = types.ModuleType("kubernetes.e2e_test.base", __doc__)
base.get_e2e_configuration = get_e2e_configuration
e2e_test = types.ModuleType("kubernetes.e2e_test")
e2e_test.__path__ = []
e2e_test.base = base
sys.modules["kubernetes.e2e_test"] = e2e_test
sys.modules["kubernetes.e2e_test.base"] = base

_outcomes = {}


def pytest_runtest_logreport(report):
    # Keyed file::Class::test: node ids hold a path relative to wherever pytest ran.
    path, _, domain = report.location
    test = "::".join([os.path.basename(path), *domain.split(".")])
    # A test's outcome is its first failing phase (setup, call, teardown), else its call's outcome.
    current = _outcomes.get(test)
    if current and current["outcome"] != "passed":
        return
    if report.failed:
        _outcomes[test] = {"outcome": "failed" if report.when == "call" else "error", "message": report.longreprtext}
    elif report.skipped:
        _outcomes[test] = {"outcome": "skipped", "message": str(report.longrepr)}
    elif report.when == "call":
        _outcomes[test] = {"outcome": "passed", "message": ""}


def pytest_sessionfinish(session):
    with open(os.environ["EDGEPLANE_PYTEST_REPORT"], "w") as out:
        json.dump(_outcomes, out, indent=1)
