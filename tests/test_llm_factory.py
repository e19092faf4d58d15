"""The provider stack from tenant settings and the environment (real HTTP to the fake server)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kefu.errors import ConfigurationError, SettingError
from kefu.llm.factory import LlmConfig, ProviderRegistry
from kefu.llm.port import ChatRequest, Message
from kefu.llm.resilience import BreakerState
from kefu.settings import SETTINGS, get_setting

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

DEFAULTS = {name: s.default for name, s in SETTINGS.items() if name.startswith("llm_")}
ASK = ChatRequest((Message("user", "你好"),))


def settings(**over: Any) -> dict[str, Any]:
    return {**DEFAULTS, **over}


def test_no_endpoint_and_no_model_file_means_no_llm() -> None:
    assert LlmConfig.resolve(settings(), env={}) is None


def test_zero_calls_per_turn_switches_the_llm_off() -> None:
    env = {"KEFU_LLM_BASE_URL": "http://127.0.0.1:9/v1", "KEFU_LLM_MODEL": "m"}
    assert LlmConfig.resolve(settings(llm_max_calls_per_turn=0), env=env) is None


def test_tenant_settings_override_the_environment() -> None:
    env = {
        "KEFU_LLM_BASE_URL": "http://env/v1",
        "KEFU_LLM_MODEL": "env-model",
        "KEFU_LLM_API_KEY": "k",
    }
    config = LlmConfig.resolve(
        settings(
            llm_base_url="http://tenant/v1",
            llm_model="deepseek-chat",
            llm_fallback_models="qwen-plus, deepseek-chat,  glm-4 ",
            llm_timeout_s=3.0,
            llm_prices="deepseek-chat=2/8, qwen-*=0.8/2",
        ),
        env=env,
    )
    assert config is not None
    assert config.base_url == "http://tenant/v1" and config.api_key == "k"
    # the model first, its fallbacks after, the model itself not twice
    assert config.models == ("deepseek-chat", "qwen-plus", "glm-4")
    assert config.timeout_s == 3.0
    table = config.price_table()
    assert table.currency == "CNY"
    price = table.price_for("qwen-plus")
    assert price is not None and str(price.output_per_m) == "2"


def test_an_endpoint_without_a_model_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        LlmConfig.resolve(settings(), env={"KEFU_LLM_BASE_URL": "http://x/v1"})
    assert err.value.field == "llm_model"


def test_a_model_file_names_the_model_and_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        LlmConfig.resolve(settings(), env={"KEFU_LLM_GGUF": str(tmp_path / "nope.gguf")})
    gguf = tmp_path / "qwen2.5-1.5b.gguf"
    gguf.write_bytes(b"GGUF")
    config = LlmConfig.resolve(
        settings(llm_fallback_models="other"), env={"KEFU_LLM_GGUF": str(gguf)}
    )
    assert config is not None and config.models == ("qwen2.5-1.5b",) and config.gguf == str(gguf)


def test_price_setting_names_the_bad_entry() -> None:
    setting = get_setting("llm_prices")
    assert (
        setting.parse(" deepseek-chat = 2/8 ,qwen-*=0.8/2") == "deepseek-chat = 2/8 ,qwen-*=0.8/2"
    )
    with pytest.raises(SettingError) as err:
        setting.parse("deepseek-chat=2/8, qwen-plus=cheap")
    assert "qwen-plus=cheap" in err.value.message


def test_fallback_model_answers_when_the_model_fails_and_the_breaker_stays_open(
    fake_llm: FakeLlmServer,
) -> None:
    now = [0.0]
    registry = ProviderRegistry(clock=lambda: now[0], sleep=lambda s: None)
    config = LlmConfig.resolve(
        settings(
            llm_base_url=fake_llm.base_url,
            llm_model="primary",
            llm_fallback_models="backup",
            llm_breaker_failures=1,
            llm_prices="backup=1/2",
        ),
        env={},
    )
    assert config is not None
    fake_llm.reply_error(500)  # one failure opens the primary's breaker: no retry after it
    fake_llm.reply_text("来自备用模型")
    result = registry.chain(config, tags={"tenant": "shop"}).try_complete(ASK)
    assert result is not None and result.text == "来自备用模型"
    models = [r.body["model"] for r in fake_llm.requests]
    assert models == ["primary", "backup"]

    # A later turn builds its chain again: the primary's breaker is still open, so the
    # request goes straight to the backup and the primary is not called at all.
    fake_llm.reply_text("又是备用")
    second = registry.chain(config, tags={"tenant": "shop"}).try_complete(ASK)
    assert second is not None and second.text == "又是备用"
    assert [r.body["model"] for r in fake_llm.requests][2:] == ["backup"]
    primary = registry._provider(config, "primary")
    assert primary.breaker is not None and primary.breaker.state is BreakerState.OPEN

    # Every call, failed or not, is in the ledger with the caller's tags and the price.
    records = registry.ledger.records()
    assert [r.ok for r in records] == [False, True, False, True]
    assert all(r.tags == {"tenant": "shop"} for r in records)
    assert records[1].cost is not None and records[1].cost > 0


def test_every_model_failing_means_the_offline_engine_answers(fake_llm: FakeLlmServer) -> None:
    registry = ProviderRegistry(sleep=lambda s: None)
    config = LlmConfig.resolve(settings(llm_base_url=fake_llm.base_url, llm_model="only"), env={})
    assert config is not None
    fake_llm.reply_error(400)  # a rejected request is not retried
    assert registry.chain(config).try_complete(ASK) is None
    assert len(fake_llm.requests) == 1
