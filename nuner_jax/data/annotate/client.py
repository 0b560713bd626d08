"""A minimal client for any OpenAI-compatible chat-completions endpoint: per-request timeout,
retries with exponential backoff (and Retry-After) on 429, 5xx, timeouts and connection errors.
The API key comes from the environment and is never logged or written anywhere."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
import urllib.error
import urllib.request


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-3.5-turbo"
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable, never the key itself
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float = 60.0
    max_retries: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0


class AnnotationRequestError(RuntimeError):
    """A request that failed for good (non-retryable status, or retries exhausted)."""


RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatClient:
    def __init__(self, cfg: ClientConfig):
        self.cfg = cfg
        self._key = os.environ.get(cfg.api_key_env, "")
        self.requests_sent = 0

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.cfg.model, "messages": messages, "temperature": self.cfg.temperature,
                           "max_tokens": self.cfg.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        last_error = ""
        for attempt in range(self.cfg.max_retries + 1):
            retry_after = None
            try:
                self.requests_sent += 1
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
                try:
                    return payload["choices"][0]["message"]["content"] or ""
                except (KeyError, IndexError, TypeError) as e:
                    raise AnnotationRequestError(f"unexpected response shape from {url}: {str(payload)[:200]}") from e
            except urllib.error.HTTPError as e:
                if e.code not in RETRYABLE:
                    raise AnnotationRequestError(f"HTTP {e.code} from {url}: {e.read()[:200]!r}") from e
                last_error = f"HTTP {e.code}"
                retry_after = e.headers.get("Retry-After") if e.headers else None
            except (TimeoutError, urllib.error.URLError, ConnectionError, json.JSONDecodeError) as e:
                last_error = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.cfg.max_retries:
                delay = min(self.cfg.max_backoff_s, self.cfg.backoff_s * 2**attempt) * (0.5 + random.random() / 2)
                if retry_after:
                    try:
                        delay = max(delay, float(retry_after))
                    except ValueError:
                        pass
                time.sleep(delay)
        raise AnnotationRequestError(f"{url}: gave up after {self.cfg.max_retries + 1} attempts ({last_error})")
