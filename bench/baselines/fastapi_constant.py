"""The cache benchmark's ceiling: a FastAPI endpoint that reads the request and answers a constant,
as fast as a Python service answering from memory gets. Run: uvicorn bench.baselines.fastapi_constant:app"""

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
ANSWER = b'{"predictions":[0]}'


@app.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")
