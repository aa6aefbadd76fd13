"""The README's configuration table lists every setting of app/config.py."""

from app.config import Settings
from tests.support import ROOT


def test_every_config_key_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    keys = Settings.names()
    assert len(keys) > 20
    missing = [key for key in keys if f"`CRONWELL_{key}`" not in table]
    assert missing == [], "add these to the README's configuration table"
