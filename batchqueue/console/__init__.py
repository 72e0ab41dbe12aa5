"""The web console (``batchqueue console``): server-rendered pages and a JSON API over the service layer.

| module    | its one job |
| --------- | ----------- |
| `server`  | the console and the callback endpoint on one waitress server |
| `app`     | the Flask app: configuration, security headers, errors |
| `auth`    | login, logout, the session every other page needs |
| `pages`   | the HTML pages and their forms |
| `api`     | the same actions as JSON (`openapi` describes them) |
| `forms`   | form fields and JSON bodies into service requests; uploads stored |
| `charts`  | SVG chart geometry, computed on the server |
"""
