"""The edge: the aiohttp service providers call, in their own dialects.

- `app.setup_edge` mounts every configured provider's wallet routes (`/wallet/...`);
- `config` reads the providers from `livebridge.toml` (secrets from env or files);
- `gateway` runs each call through the guards (IP allowlist, rate limit, body size) and
  the provider's adapter; `adapters/` holds one module per dialect (`base` says how to
  add one);
- `ports` is the ledger as the edge sees it, called from a thread pool;
- `sessions` keeps launch tokens and sids in JetStream KV;
- `feeds/` takes the providers' game events (push, pull, socket).
"""
