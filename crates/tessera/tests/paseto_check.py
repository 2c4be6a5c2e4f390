#!/usr/bin/env python3
"""Checks a Tessera lease or borrow token with pyseto, an independent PASETO library.

    paseto_check.py TOKEN VENDOR_PUBLIC_KEY

VENDOR_PUBLIC_KEY is the vendor's PASERK `k4.public.…`. The chain is checked as a client
would, with no Tessera code involved:

1. the footer's `activation` verifies against the vendor key (and is an activation);
2. the token verifies against that activation's `server_key`;
3. the footer pyseto returns after verification is the one that was checked in step 1.

On success prints `{"claims": {...}, "activation": {...}}` as JSON and exits 0; on any
failure prints the reason to standard error and exits 1.
"""

import base64
import json
import sys

import pyseto
from pyseto import Key


def fail(message: str) -> None:
    print(f"paseto_check: {message}", file=sys.stderr)
    sys.exit(1)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main() -> None:
    if len(sys.argv) != 3:
        fail("usage: paseto_check.py TOKEN VENDOR_PUBLIC_KEY")
    token, vendor_paserk = sys.argv[1].strip(), sys.argv[2].strip()

    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "v4" or parts[1] != "public":
        fail("not a v4.public token with a footer")
    try:
        untrusted_footer = json.loads(b64url_decode(parts[3]))
        activation = untrusted_footer["activation"]
    except Exception as e:  # noqa: BLE001 - any malformed footer is a failure
        fail(f"the footer holds no activation: {e!r}")

    try:
        vendor_key = Key.from_paserk(vendor_paserk)
    except Exception as e:  # noqa: BLE001
        fail(f"bad vendor key: {e!r}")

    try:
        act = pyseto.decode(vendor_key, activation, deserializer=json)
    except Exception as e:  # noqa: BLE001
        fail(f"the activation does not verify against the vendor key: {e!r}")
    act_claims = act.payload
    if not isinstance(act_claims, dict) or act_claims.get("kind") != "activation":
        fail(f"the footer's document is not an activation: {act_claims!r}")

    try:
        server_key = Key.from_paserk(act_claims["server_key"])
    except Exception as e:  # noqa: BLE001
        fail(f"the activation's server_key is not a k4.public key: {e!r}")

    try:
        tok = pyseto.decode(server_key, token, deserializer=json)
    except Exception as e:  # noqa: BLE001
        fail(f"the token does not verify against the activation's server_key: {e!r}")

    # With `deserializer=json` pyseto hands the footer back already parsed.
    footer = tok.footer if isinstance(tok.footer, dict) else json.loads(tok.footer)
    if footer.get("activation") != activation:
        fail("the verified footer is not the activation that was checked")

    print(json.dumps({"claims": tok.payload, "activation": act_claims}))


if __name__ == "__main__":
    main()
