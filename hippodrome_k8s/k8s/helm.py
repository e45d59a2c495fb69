"""Install or upgrade the ``hippodrome`` chart through pyhelm3, behind a small protocol.

pyhelm3 is async and raises its own ``pyhelm3.errors.Error`` tree; both stop
here (``asyncio.run`` per call, errors wrapped in ``K8sError``).  Never pass
``disable_validation=True``: pyhelm3 0.5.8 splits that flag into characters
(measured).  Helm installs ``crds/`` on first install only and never upgrades
them, so the driver applies the chart's CRDs with kubectl before each upgrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hippodrome_k8s.core.errors import K8sError

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "hippodrome"
RELEASE = "hippodrome"
NAMESPACE = "hippodrome"
TIMEOUT = "5m"


class ChartInstaller(Protocol):
    def install_or_upgrade(self, chart: Path, release: str, namespace: str, values: Mapping[str, Any]) -> str: ...

    def uninstall(self, release: str, namespace: str) -> None: ...


@dataclass
class PyHelmInstaller:
    kube_context: str
    executable: str = "helm"

    def _client(self):
        from pyhelm3 import Client

        return Client(executable=self.executable, kubecontext=self.kube_context, default_timeout=TIMEOUT)

    def install_or_upgrade(self, chart: Path, release: str, namespace: str, values: Mapping[str, Any]) -> str:
        from pyhelm3 import errors

        async def go() -> str:
            client = self._client()
            loaded = await client.get_chart(chart)
            revision = await client.install_or_upgrade_release(
                release, loaded, dict(values), namespace=namespace, create_namespace=True, wait=True, atomic=False,
                timeout=TIMEOUT,
            )
            return f"{release} revision {revision.revision} ({revision.status.value if revision.status else '?'})"

        if not chart.is_dir():
            raise K8sError(f"the Helm chart is missing: {chart}")
        try:
            return asyncio.run(go())
        except errors.Error as e:
            raise K8sError(f"helm install/upgrade of {release!r} in {namespace!r} failed: {_helm_message(e)}") from None

    def uninstall(self, release: str, namespace: str) -> None:
        from pyhelm3 import errors

        try:
            asyncio.run(self._client().uninstall_release(release, namespace=namespace, wait=True))
        except errors.ReleaseNotFoundError:
            return
        except errors.Error as e:
            raise K8sError(f"helm uninstall of {release!r} failed: {_helm_message(e)}") from None


def _helm_message(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[-1][:500] if text else type(error).__name__


@dataclass
class FakeHelm:
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    fail_with: str | None = None

    def install_or_upgrade(self, chart: Path, release: str, namespace: str, values: Mapping[str, Any]) -> str:
        self.calls.append(("install_or_upgrade", release, namespace, dict(values)))
        if self.fail_with:
            raise K8sError(self.fail_with)
        return f"{release} revision {len(self.calls)} (deployed)"

    def uninstall(self, release: str, namespace: str) -> None:
        self.calls.append(("uninstall", release, namespace, {}))
