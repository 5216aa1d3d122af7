"""Write this web node's page into its host directory (inputs: TITLE, MURANO_FLOW_ENTITY)."""
import html
import os
import pathlib

site = pathlib.Path("site")
site.mkdir(exist_ok=True)
title = html.escape(os.environ["TITLE"])
node = html.escape(os.environ["MURANO_FLOW_ENTITY"])
(site / "index.html").write_text(
    f"<!doctype html><title>{title}</title><h1>{title}</h1><p>served by {node}</p>\n"
)
print(f"published site/index.html for {node}")
