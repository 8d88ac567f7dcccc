"""The few huggingface_hub calls a model download makes, and their errors turned into sentences."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import ModelError

if TYPE_CHECKING:
    import httpx2


class DownloadError(ModelError):
    """A model could not be downloaded; the message says why and what to do."""


class DownloadCancelled(DownloadError):
    """The caller cancelled the download; what arrived so far is kept for the next attempt."""


class OfflineError(DownloadError):
    """Offline mode is on, so nothing is downloaded."""


class HubClient:
    """The few huggingface_hub calls used here, and their errors turned into sentences."""

    def __init__(self, endpoint: str | None, timeout: float) -> None:
        from huggingface_hub import constants

        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self.timeout = timeout

    def url(self, repo: str, path: str, revision: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(repo, path, revision=revision, endpoint=self.endpoint)

    def metadata(self, url: str):
        from huggingface_hub import get_hf_file_metadata

        return get_hf_file_metadata(url, token=False, timeout=self.timeout, endpoint=self.endpoint)

    @contextlib.contextmanager
    def stream(self, url: str, start: int) -> Iterator[httpx2.Response]:
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        headers = build_hf_headers(token=False)
        headers["Accept-Encoding"] = "identity"
        if start:
            headers["Range"] = f"bytes={start}-"
        with get_session().stream("GET", url, headers=headers, timeout=self.timeout, follow_redirects=True) as r:
            if r.status_code != 416:
                hf_raise_for_status(r)
            yield r

    @contextlib.contextmanager
    def errors(self, name: str) -> Iterator[None]:
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

        host = urlsplit(self.endpoint).netloc or self.endpoint
        try:
            yield
        except OfflineModeIsEnabled as exc:
            raise OfflineError(f"Memex is in offline mode (HF_HUB_OFFLINE is set), so it did not download {name}.") \
                from exc
        except httpx2.ConnectError as exc:
            raise DownloadError(f"Memex could not connect to {host} to download {name} ({_reason(exc)}); check the "
                                "internet connection, or add the model files by hand with: memex models import "
                                "FOLDER") from exc
        except httpx2.TimeoutException as exc:
            raise DownloadError(f"{host} did not answer in time while downloading {name}; try again later "
                                "(what has arrived is kept).") from exc
        except httpx2.TransportError as exc:
            raise DownloadError(f"The connection to {host} failed while downloading {name} ({_reason(exc)}); run "
                                "the download again to continue where it stopped.") from exc
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            what = {401: "refused access to it", 403: "refused access to it", 404: "does not have it"}.get(
                status or 0, f"answered with HTTP {status}")
            raise DownloadError(f"Could not download {name}: {host} {what}.") from exc
        except OSError as exc:
            if isinstance(exc, ModelError):
                raise
            where = f" {exc.filename}" if exc.filename else ""
            raise DownloadError(f"Could not write{where} while downloading {name}: {exc.strerror or exc}.") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
