"""The portal as a service: one Streamlit `st.App` that owns the database and serves the pages, the
HTTP API under /api/v1, the sign-in cookie routes, and the loopback bridge the CLI uses while it runs.

- app.py         the st.App: lifespan (the one read-write connection, the runfile), routes, middleware
- api.py         /api/v1: health, OpenAPI, named queries, uploads, public complaints and tickets
- auth_routes.py /account/session and /account/signout: the signed, HttpOnly sign-in cookie
- bridge.py      /api/internal/cli: runs a `portal` command in the server for a CLI on this machine
- runfile.py     the per-run file beside the database (port and secret, 0600) that the CLI finds
- access.py      which roles may run each named query (the pages that show it)
- render.py      a query result as CSV, JSON or Parquet, byte-equal to `portal query`
- state.py       this process's serving state (shared with the Streamlit script)
"""
