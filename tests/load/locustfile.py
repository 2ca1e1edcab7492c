"""Runbook week 4: `locust -f tests/load/locustfile.py --host=https://staging.cato.thinktank.ai`.

Aimed at what clients talk to (the gateway; on the sandbox the `gateway` component, which adds
the key itself), or straight at a stack: set CATO_LOAD_API_KEY to send `Authorization: Bearer`.

Each simulated user is a client with a session: it holds a multi-turn conversation (its history
re-sent each turn, OpenAI-style, plus `x-session-id` and `user`), starts a new one after a few
turns, and now and then asks one of a few popular questions verbatim (what a cache should
serve). Model names are LiteLLM's (`claude-3-haiku`, `claude-3-5-sonnet`), which both stacks
serve: the same file measures the legacy and the new stack. Only plain locust and the standard
library are used; a non-200, an unparsable body or an empty answer is a failure.

    locust -f tests/load/locustfile.py --headless -u 50 -r 10 -t 2m --host http://127.0.0.1:PORT
"""
from __future__ import annotations

import os
import random
import uuid

from locust import HttpUser, between, task

POPULAR = ["What is Python?", "How do I reset my password?", "What is the capital of France?",
           "Explain what an API is in one paragraph."]
OPENERS = ["My name is {name} and I am planning a trip to {city}.", "I am {name}; I work on a {thing} project.",
           "Hi, {name} here. I need help comparing {thing} options."]
FOLLOW_UPS = ["What should I look at first?", "Can you summarise that in two sentences?",
              "What is my name?", "Compare the two main trade-offs and analyse which matters more for me.",
              "Give me one concrete next step."]
NAMES = ["Alice", "Bob", "Chen", "Dara", "Eli"]
CITIES = ["Lisbon", "Osaka", "Nairobi", "Quito"]
THINGS = ["database", "queue", "frontend", "billing"]
MODELS = ["claude-3-haiku"] * 4 + ["claude-3-5-sonnet"]  # most traffic on the cheap tier


class ChatUser(HttpUser):
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.user_id = f"locust-{uuid.uuid4().hex[:10]}"
        key = os.environ.get("CATO_LOAD_API_KEY", "")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._new_conversation()

    def _new_conversation(self) -> None:
        self.session_id = uuid.uuid4().hex
        self.model = random.choice(MODELS)
        self.turns_left = random.randint(2, 5)
        self.messages: list[dict] = []

    def _post(self, messages: list[dict], name: str, session_id: str | None) -> str | None:
        headers = {**self.headers, **({"x-session-id": session_id} if session_id else {})}
        body = {"model": self.model, "user": self.user_id, "messages": messages, "max_tokens": 128}
        with self.client.post("/v1/chat/completions", json=body, headers=headers, name=name,
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}: {r.text[:120]}")
                return None
            try:
                answer = r.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                r.failure("unparsable answer")
                return None
            if not answer:
                r.failure("empty answer")
                return None
            r.success()
            return answer

    @task(8)
    def conversation_turn(self) -> None:
        if not self.messages:
            text = random.choice(OPENERS).format(name=random.choice(NAMES), city=random.choice(CITIES),
                                                 thing=random.choice(THINGS))
        else:
            text = random.choice(FOLLOW_UPS)
        self.messages.append({"role": "user", "content": text})
        answer = self._post(self.messages, "chat: conversation turn", self.session_id)
        if answer is None:
            self.messages.pop()
        else:
            self.messages.append({"role": "assistant", "content": answer})
        self.turns_left -= 1
        if self.turns_left <= 0:
            self._new_conversation()

    @task(2)
    def popular_question(self) -> None:
        # A fresh, sessionless question asked verbatim by many users: a cache hit where one exists.
        self._post([{"role": "user", "content": random.choice(POPULAR)}], "chat: popular question", None)
