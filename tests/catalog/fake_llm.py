"""A local OpenAI-compatible chat endpoint for enrichment tests: translates by tagging, can be told to fail."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeLlm:
    def __init__(self) -> None:
        self.failing = False
        self.requests: list[dict] = []
        self.app = Starlette(routes=[Route("/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if self.failing:
            return JSONResponse({"error": {"message": "model overloaded"}}, status_code=503)
        ask = json.loads(body["messages"][1]["content"])
        answer = {"name": f"[{ask['to']}] {ask['name']}", "description": f"[{ask['to']}] {ask['description']}"}
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}]})
