"""Sets up an organization with a web license server on a running `tessera portal`, the
way its people would: sign-up and confirmation (the e-mail's link, from the outbox),
company info, a Corporate subscription with "Use Web License Server", Checkout with
Bank transfer; then the vendor's staff mark the order Paid. Prints the organization's
path name, its admin's session cookie and a site key made in its panel, for
scripts/api-contract.

Usage: portal-web-org.py PORTAL_URL OUTBOX_DIR
"""
import datetime
import email
import email.policy
import pathlib
import re
import sys
import time

import requests

PASSWORD = "contract-password-1"


class Browser:
    def __init__(self, base):
        self.base = base
        self.s = requests.Session()
        self.csrf = ""

    def get(self, path):
        r = self.s.get(self.base + path, allow_redirects=True, timeout=30)
        m = re.search(r'name="csrf" value="([^"]+)"', r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def submit(self, path, fields):
        r = self.s.post(self.base + path, data={"csrf": self.csrf, **fields},
                        allow_redirects=False, timeout=30)
        if r.status_code >= 400:
            sys.exit(f"POST {path} answered {r.status_code}: {r.text[:2000]}")
        return r


def confirmation_link(outbox, address):
    for _ in range(100):
        for path in sorted(pathlib.Path(outbox).glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address not in str(msg["To"]):
                continue
            body = msg.get_body(preferencelist=("plain",))
            m = re.search(r"https?://\S+(/confirm\?token=\S+)", body.get_content() if body else "")
            if m:
                return m.group(1)
        time.sleep(0.1)
    sys.exit(f"no confirmation e-mail to {address} in {outbox}")


def account(base, outbox, address, organization):
    b = Browser(base)
    b.get("/signup")
    b.submit("/signup", {"email": address, "organization": organization,
                         "password": PASSWORD, "password_again": PASSWORD})
    b.get(confirmation_link(outbox, address))
    b.get("/signin")
    r = b.submit("/signin", {"email": address, "password": PASSWORD})
    if r.status_code != 303:
        sys.exit(f"signing in {address} answered {r.status_code}")
    return b


def main():
    base, outbox = sys.argv[1].rstrip("/"), sys.argv[2]
    buyer = account(base, outbox, "admin@contract.example", "Contract Office")
    buyer.get("/checkout")
    buyer.submit("/account/company", {"name": "Contract Office Ltd", "address": "1 Example Street\n00-001 Warsaw",
                                      "tax_id": "PL1234567890", "billing_email": "admin@contract.example",
                                      "next": "/checkout"})
    buyer.get("/buy/all")
    buyer.submit("/buy/all", {"option": "all-3m", "start": "", "users": "5", "web": "on"})
    buyer.get("/checkout")
    buyer.submit("/checkout", {"payment": "bank_transfer"})
    orders = buyer.get("/account/orders").text
    numbers = re.findall(r'id="order-(ORD-[^"]+)"', orders)
    if not numbers:
        sys.exit("the order is not on the orders page")
    staff = account(base, outbox, "staff@tessera.example", "Tessera Software")
    staff.get(f"/staff/orders/{numbers[-1]}")
    staff.submit(f"/staff/orders/{numbers[-1]}/paid", {"start": datetime.date.today().isoformat()})
    orders = buyer.get("/account/orders").text
    m = re.search(r'href="/w/([^/"]+)/"', orders)
    if not m:
        sys.exit("no Use Web License Server link after Paid")
    org = m.group(1)
    # A site key from the panel: the web license server lends seats only with a credential.
    buyer.get(f"/w/{org}/")
    made = buyer.s.post(f"{base}/w/{org}/site-keys", data={"csrf": buyer.csrf, "name": "Contract PCs"},
                        allow_redirects=False, timeout=30)
    key = re.search(r'id="new-site-key">(tsk_[a-z0-9]+)<', made.text)
    if made.status_code != 200 or not key:
        sys.exit(f"making a site key answered {made.status_code}: {made.text[:2000]}")
    print(org)
    print(f"tessera_session={buyer.s.cookies.get('tessera_session')}")
    print(key.group(1))


if __name__ == "__main__":
    main()
