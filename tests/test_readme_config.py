"""The README's configuration table lists every key of app/config.py."""

import app.config
from tests.support import ROOT


def test_every_config_key_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    keys = [name for name in vars(app.config) if name.isupper()]
    assert len(keys) > 20
    missing = [key for key in keys if f"`CRONWELL_{key}`" not in table]
    assert missing == [], "add these to the README's configuration table"
