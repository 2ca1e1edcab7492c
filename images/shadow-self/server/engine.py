"""Generation with vLLM and hidden states with Hugging Face transformers, side by side.

vLLM does not return hidden states, so the container loads the same weights twice on the GPU:
vLLM (its share capped by VLLM_GPU_MEMORY_UTILIZATION, 0.55 by default) generates, while the
HF model (AutoModel: the transformer without its LM head, bf16) runs ONE forward pass over the
prompt with output_hidden_states=True. Both start at once for each request; the answer waits
for both. The vector is layer HIDDEN_STATE_LAYER (default -1: the last layer's output, which in
HF's Llama/Mistral/Qwen models is after the final norm) pooled by HIDDEN_STATE_POOLING (default
"mean" over the prompt's tokens). Pooling runs in `protocol.pool` on plain lists (the tested
code is the code that runs; ~tens of ms for 4096 x a few hundred tokens).

torch, transformers and vllm are imported here only, never by protocol.py.
"""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from server import protocol


class ShadowSelfEngine:
    def __init__(self, cfg: protocol.Config):
        self.cfg = cfg
        self.ready = False
        self.problem: str | None = None
        self._hf_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-forward")  # one pass at a time
        self._llm: Any = None
        self._hf: Any = None
        self._tok: Any = None

    def load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from vllm import AsyncEngineArgs
        try:
            from vllm import AsyncLLMEngine
        except ImportError:  # newer vLLM: the v1 engine under its own name
            from vllm.v1.engine.async_llm import AsyncLLM as AsyncLLMEngine

        cfg = self.cfg
        self._tok = AutoTokenizer.from_pretrained(cfg.model_path)
        self._hf = AutoModel.from_pretrained(cfg.model_path, torch_dtype=torch.bfloat16, device_map="cuda").eval()
        if self._hf.config.hidden_size != cfg.hidden_size:
            raise ValueError(f"the model's hidden size is {self._hf.config.hidden_size}, but HIDDEN_STATE_SIZE is "
                             f"{cfg.hidden_size}: fix the sagemaker_model step's environment")
        self._llm = AsyncLLMEngine.from_engine_args(AsyncEngineArgs(
            model=cfg.model_path, served_model_name=cfg.model_name, dtype="bfloat16",
            gpu_memory_utilization=cfg.gpu_memory_utilization, max_model_len=cfg.max_model_len))
        self.ready = True

    def prompt_text(self, req: protocol.Request) -> str:
        if req.prompt is not None:
            return req.prompt
        return self._tok.apply_chat_template(req.messages, tokenize=False, add_generation_prompt=True)

    def _hidden(self, prompt: str) -> list[float]:
        import torch

        enc = self._tok(prompt, return_tensors="pt", truncation=True, max_length=self.cfg.max_model_len).to("cuda")
        with torch.inference_mode():
            out = self._hf(**enc, output_hidden_states=True)
        idx = protocol.layer_index(len(out.hidden_states), self.cfg.layer)
        rows = out.hidden_states[idx][0].float().cpu().tolist()
        return protocol.pool(rows, enc["attention_mask"][0].tolist(), self.cfg.pooling)

    async def _generate(self, prompt: str, req: protocol.Request):
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=req.max_new_tokens, temperature=req.temperature, top_p=req.top_p,
                                stop=req.stop or None)
        final = None
        async for final in self._llm.generate(prompt, params, request_id=uuid.uuid4().hex):
            pass
        return final

    async def invoke(self, req: protocol.Request) -> dict[str, Any]:
        prompt = self.prompt_text(req)
        loop = asyncio.get_running_loop()
        hidden_job = loop.run_in_executor(self._hf_pool, self._hidden, prompt) if req.hidden_states else None
        final = await self._generate(prompt, req)
        hidden = await hidden_job if hidden_job is not None else None
        choice = final.outputs[0]
        return protocol.response(self.cfg, choice.text, choice.finish_reason, len(final.prompt_token_ids),
                                 len(choice.token_ids), hidden)
