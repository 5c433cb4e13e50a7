# Run inside the archive (SHIV_INTERPRETER=1 app.pyz -c ...): exercises the packed Flask app
# through its test client and prints what the page, the API and the page's scripts return.
import json
import re

from myapp.app import create_app

client = create_app().test_client()
index = client.get("/")
html = index.get_data(as_text=True)
scripts = re.findall(r'src="(/assets/[^"]+\.js)"', html)
print(json.dumps({
    "index": index.status_code,
    "title": re.search(r"<title>(.*?)</title>", html).group(1),
    "greeting": client.get("/api/greeting").get_json()["message"],
    "scripts": scripts,
    "scriptStatus": [client.get(script).status_code for script in scripts],
    "script": "".join(client.get(script).get_data(as_text=True) for script in scripts),
    "favicon": client.get("/favicon.svg").status_code,
}))
