import json
import stat
import tomllib
from pathlib import Path

import pytest

from vectis.config import ConfigError, load_config, redact_uri, with_secrets
from vectis.settings import SETTINGS

from .support.processes import ROOT, clean_env, run_cli

EXAMPLE = ROOT / "config" / "vectis.example.toml"


def test_defaults_give_a_development_server_on_the_embedded_database():
    config = load_config(env={})
    assert config.mode == "development"
    assert config.embedded_db and config.seed_demo
    assert config.tenant_origin("acme") == "http://acme.localhost:8080"
    assert config.mcp_resource("acme") == "http://acme.localhost:8080/api/mcp"


def test_flags_override_environment_which_overrides_the_file(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text('port = 7000\nbase_domain = "file.example"\nlog_level = "debug"\n')
    env = {"VECTIS_PORT": "7001", "VECTIS_BASE_DOMAIN": "env.example"}
    config = load_config(path, env=env, overrides={"port": 7002})
    assert (config.port, config.base_domain, config.log_level) == (7002, "env.example", "debug")


def test_every_problem_is_reported_at_once_with_its_origin(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text('prot = 80\nmode = "staging"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={"VECTIS_PORT": "eighty", "VECTIS_COLOUR": "blue"})
    text = str(err.value)
    assert "prot: unknown setting" in text
    assert "mode: must be one of development, production" in text
    assert "port: expected int, got 'eighty' (from VECTIS_PORT)" in text
    assert "VECTIS_COLOUR: unknown environment setting" in text
    assert len(err.value.problems) == 4


@pytest.mark.parametrize("content, fragment", [
    ("port = 70000", "port: must be a port number"),
    ('base_domain = "Not A Domain"', "base_domain: must be a lower-case DNS name"),
    ('mongo_uri = "postgres://x"', "mongo_uri: must start with mongodb://"),
    ('db_prefix = "Bad-Prefix"', "db_prefix: must match"),
    ("tenant_cache_seconds = 0", "tenant_cache_seconds: must be greater than 0"),
    ("approval_expiry_hours = 0", "approval_expiry_hours: must be 1 to 720 hours"),
    ("approval_expiry_hours = 721", "approval_expiry_hours: must be 1 to 720 hours"),
    ("port = true", "port: expected int"),
    ('cookie_secret = "short"', "cookie_secret: must be at least 32 characters"),
    ('encryption_key = "abc"', "encryption_key: must be 32 bytes"),
    ("not toml at all = = =", "is not valid TOML"),
])
def test_invalid_values_are_refused_clearly(tmp_path, content, fragment):
    path = tmp_path / "v.toml"
    path.write_text(content + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert fragment in str(err.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_production_requires_https_and_explicit_secrets(tmp_path):
    with pytest.raises(ConfigError, match="production mode requires https"):
        load_config(env={"VECTIS_MODE": "production"})
    config = load_config(env={"VECTIS_MODE": "production", "VECTIS_PUBLIC_SCHEME": "https",
                              "VECTIS_BASE_DOMAIN": "mspvectis.com",
                              "VECTIS_DATA_DIR": str(tmp_path)})
    assert config.tenant_origin("acme") == "https://acme.mspvectis.com"
    assert not config.seed_demo
    with pytest.raises(ConfigError) as err:
        with_secrets(config)
    assert {p.split(":")[0] for p in err.value.problems} == {"cookie_secret", "encryption_key", "token_pepper"}
    assert not (tmp_path / "secrets.json").exists()


def test_development_secrets_are_generated_once_and_kept_private(tmp_path):
    config = load_config(env={"VECTIS_DATA_DIR": str(tmp_path)})
    first = with_secrets(config)
    second = with_secrets(config)
    assert first.cookie_secret and first.token_pepper and first.encryption_key
    assert (first.cookie_secret, first.token_pepper, first.encryption_key) == \
           (second.cookie_secret, second.token_pepper, second.encryption_key)
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"cookie_secret", "encryption_key", "token_pepper"}


def test_explicit_secrets_win_over_generated_ones(tmp_path):
    pepper = "p" * 40
    config = with_secrets(load_config(env={"VECTIS_DATA_DIR": str(tmp_path), "VECTIS_TOKEN_PEPPER": pepper}))
    assert config.token_pepper == pepper


def test_redacted_view_hides_secrets_and_database_password(tmp_path):
    config = with_secrets(load_config(env={
        "VECTIS_DATA_DIR": str(tmp_path),
        "VECTIS_MONGO_URI": "mongodb://vectis:hunter2hunter2@db1.internal:27017/?replicaSet=rs0"}))
    shown = json.dumps(config.redacted())
    for secret in (config.cookie_secret, config.token_pepper, config.encryption_key, "hunter2hunter2"):
        assert secret not in shown
    assert "db1.internal:27017" in shown
    assert redact_uri("mongodb://h:1/") == "mongodb://h:1/"


@pytest.mark.parametrize("uri, secret, kept", [
    # The driver accepts a "#" in the password; a URL parser takes it for a fragment.
    ("mongodb://app:s3cr#t@db1:27017/?replicaSet=rs0", "s3cr#t", "db1:27017/?replicaSet=rs0"),
    ("mongodb://app:pa?ss@db1/?authSource=admin", "pa?ss", "db1/?authSource=admin"),
    ("mongodb://db1/?tls=true&tlsCertificateKeyFilePassword=hunter2", "hunter2", "tls=true"),
    ("mongodb://db1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok3n",
     "tok3n", "authMechanism=MONGODB-AWS"),
    ("mongodb+srv://app:hunter2@cluster.example.net", "hunter2", "app:***@cluster.example.net"),
    ("not a uri hunter2", "hunter2", ""),
])
def test_database_uri_secrets_never_show(uri, secret, kept):
    shown = redact_uri(uri)
    assert secret not in shown and kept in shown


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path):
    config_file = tmp_path / "vectis.toml"
    config_file.write_text("metrics_token = 918273645546372819\n")
    with pytest.raises(ConfigError) as err:
        load_config(config_file, env={"VECTIS_DATA_DIR": str(tmp_path)})
    assert "918273645546372819" not in str(err.value.problems)
    assert "metrics_token: expected str, got int (value hidden)" in str(err.value.problems)


def test_example_file_documents_every_setting_and_loads():
    data = tomllib.loads(EXAMPLE.read_text())
    text = EXAMPLE.read_text()
    for setting in SETTINGS:
        assert f"{setting.name} =" in text, f"{setting.name} missing from {EXAMPLE.name}"
    assert set(data) <= {s.name for s in SETTINGS}
    load_config(EXAMPLE, env={})


def test_server_refuses_to_start_on_bad_configuration(tmp_path):
    result = run_cli("--data-dir", str(tmp_path), env=clean_env(VECTIS_PORT="99999"))
    assert result.returncode == 2
    assert "port: must be a port number" in result.stderr
    assert not (tmp_path / "db").exists()


def test_public_port_zero_means_scheme_default_in_production():
    config = load_config(env={"VECTIS_MODE": "production", "VECTIS_PUBLIC_SCHEME": "https",
                              "VECTIS_PORT": "8443"})
    assert config.effective_public_port == 443
    assert config.mcp_resource("x-y") == "https://x-y.localhost/api/mcp"


def test_data_dir_is_resolved_to_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(env={"VECTIS_DATA_DIR": "rel"}).data_dir == Path(tmp_path / "rel").resolve()


def _credentials(tmp_path, **files: str) -> Path:
    directory = tmp_path / "creds"
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_text(content)
    return directory


def test_credentials_directory_beats_the_file_and_the_environment_beats_both(tmp_path):
    pepper_file, pepper_cred, pepper_env = "f" * 40, "c" * 40, "e" * 40
    path = tmp_path / "v.toml"
    path.write_text(f'token_pepper = "{pepper_file}"\ncookie_secret = "{"k" * 40}"\n')
    creds = _credentials(tmp_path, token_pepper=pepper_cred + "\n",
                         mongo_uri="mongodb://app:pw@db1:27017/\n", unrelated="ignored")
    config = load_config(path, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.token_pepper == pepper_cred            # the trailing line end is not the secret
    assert config.cookie_secret == "k" * 40              # no credential: the file's value stands
    assert config.mongo_uri == "mongodb://app:pw@db1:27017/"
    config = load_config(path, env={"CREDENTIALS_DIRECTORY": str(creds),
                                    "VECTIS_TOKEN_PEPPER": pepper_env})
    assert config.token_pepper == pepper_env


def test_a_bad_credential_is_refused_without_showing_it(tmp_path):
    creds = _credentials(tmp_path, cookie_secret="tooshort-secret")
    with pytest.raises(ConfigError) as err:
        load_config(env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert "cookie_secret: must be at least 32 characters" in str(err.value)
    assert "tooshort-secret" not in str(err.value)
    (creds / "encryption_key").write_text("\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert f"encryption_key: credential {creds / 'encryption_key'} is empty" in str(err.value)


def test_production_server_starts_its_configuration_from_credentials(tmp_path):
    import base64
    import os
    creds = _credentials(tmp_path, cookie_secret="c" * 48, token_pepper="p" * 48,
                         encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode())
    config = with_secrets(load_config(env={
        "CREDENTIALS_DIRECTORY": str(creds), "VECTIS_MODE": "production",
        "VECTIS_PUBLIC_SCHEME": "https", "VECTIS_DATA_DIR": str(tmp_path / "data")}))
    assert config.redacted()["token_pepper"] == "(set)"
    assert not (tmp_path / "data" / "secrets.json").exists()


def test_generated_secrets_of_the_wrong_shape_are_a_clear_error(tmp_path):
    (tmp_path / "secrets.json").write_text("[]")
    with pytest.raises(ConfigError) as err:
        with_secrets(load_config(env={"VECTIS_DATA_DIR": str(tmp_path)}))
    assert "not the generated secrets" in str(err.value.problems)


async def test_a_reload_that_fails_unexpectedly_keeps_the_server_running(caplog):
    from vectis.reload import reload

    def load():
        raise RuntimeError("home directory of ~nosuchuser cannot be found")

    assert await reload(None, load) is False
    assert "reload refused, running configuration kept: RuntimeError" in caplog.text


def test_database_driver_debug_output_stays_out_of_the_logs():
    """PyMongo's debug log holds whole command replies (users' password hashes)."""
    import logging

    from vectis.logs import set_level
    previous = logging.getLogger().level
    try:
        set_level("debug")
        assert logging.getLogger("vectis").getEffectiveLevel() == logging.DEBUG
        for name in ("pymongo", "pymongo.command", "pymongo.connection", "pymongo.serverSelection"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        logging.getLogger().setLevel(previous)


def test_a_missing_or_broken_ca_bundle_is_refused_when_the_configuration_loads(tmp_path):
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for path in (tmp_path / "missing.pem", broken):
        with pytest.raises(ConfigError) as err:
            load_config(env={"VECTIS_DATA_DIR": str(tmp_path), "VECTIS_OAUTH_CIMD_CA_FILE": str(path)})
        assert "oauth_cimd_ca_file: must be a readable PEM CA bundle" in str(err.value.problems)
