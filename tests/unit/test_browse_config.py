"""What `yieldloop browse` hands kaskade: the services' address and security, and the screen."""

from __future__ import annotations

from pathlib import Path

from services.common.settings import CommonSettings
from yieldloop.browse import argv, client_config


def test_the_client_config_carries_the_address_and_sasl_settings() -> None:
    settings = CommonSettings(
        kafka={
            "bootstrap_servers": "broker-1:9093,broker-2:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "yieldloop",
            "sasl_password": "s3cret",
        }
    )

    lines = client_config(settings).splitlines()

    assert lines == [
        "[kafka]",
        "bootstrap.servers = broker-1:9093,broker-2:9093",
        "security.protocol = SASL_SSL",
        "sasl.mechanism = SCRAM-SHA-512",
        "sasl.username = yieldloop",
        "sasl.password = s3cret",
    ]


def test_without_sasl_no_credentials_are_written() -> None:
    config = client_config(CommonSettings(kafka={"bootstrap_servers": "127.0.0.1:9092"}))

    assert "sasl" not in config
    assert "security.protocol = PLAINTEXT" in config


def test_the_admin_screen_by_default_and_a_topic_from_its_start() -> None:
    exe, config = Path("/opt/kaskade"), Path("/dev/fd/3")

    assert argv(exe, config, None) == ["/opt/kaskade", "admin", "--config-file", "/dev/fd/3"]
    topic = argv(exe, config, "yieldloop.alert.raised")
    assert topic[:4] == ["/opt/kaskade", "consumer", "--config-file", "/dev/fd/3"]
    assert topic[topic.index("-t") + 1] == "yieldloop.alert.raised" and "--earliest" in topic
