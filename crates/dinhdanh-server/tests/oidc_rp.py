"""A relying party built on authlib, driven by tests/oidc.rs against a running dinhdanh.

It plays both sides of a login: the relying party (authlib: discovery, PKCE, the token
exchange with private_key_jwt or client_secret_basic, ID token validation, userinfo, refresh,
revocation) and the person's browser (plain HTTP with the provider's forms). It prints one JSON
object with what it saw, for the Rust test to assert on, and exits non-zero on any failure.

Settings come as one JSON object on stdin:
  issuer, client_id, redirect_uri, scope, citizen_number, password, totp_secret (base32),
  auth ("private_key_jwt" with client_jwk, a private JWK, or "client_secret_basic" with
  client_secret), par (bool), id_token_alg.
"""

import base64
import hashlib
import hmac
import json
import re
import struct
import sys
import time
import urllib.parse
import warnings

import requests

warnings.simplefilter("ignore")  # authlib.jose's deprecation notice

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign  # noqa: E402
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402
from joserfc.jwk import ECKey  # noqa: E402  (authlib's own key type for private_key_jwt)


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(1)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def totp(secret_base32, at=None):
    """RFC 6238 with SHA-1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class Browser:
    """A person's browser: keeps the provider's cookies (Secure cookies over the test's plain
    HTTP loopback, as browsers do for localhost) and never follows a redirect by itself."""

    def __init__(self, base):
        self.base = base
        self.cookies = {}
        self.http = requests.Session()
        self.http.trust_env = False

    def _absolute(self, url):
        return urllib.parse.urljoin(self.base, url)

    def _remember(self, response):
        for header in response.raw.headers.getlist("Set-Cookie"):
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            attributes = header.lower()
            if "max-age=0" in attributes or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def _headers(self):
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": cookie, "Accept-Language": "en"} if cookie else {"Accept-Language": "en"}

    def get(self, url):
        response = self.http.get(self._absolute(url), headers=self._headers(), allow_redirects=False)
        self._remember(response)
        return response

    def post(self, url, data):
        response = self.http.post(self._absolute(url), data=data, headers=self._headers(),
                                  allow_redirects=False)
        self._remember(response)
        return response


def hidden(html, name):
    match = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % name, html) or \
        re.search(r'<input[^>]*value="([^"]*)"[^>]*name="%s"' % name, html)
    if not match:
        fail(f"no hidden field {name} in page")
    return match.group(1)


def form_fields(html):
    return {name: hidden(html, name) for name in ("tx", "csrf", "lang")}


def log_in_and_consent(browser, authorize_url, settings):
    """From the authorization URL to the client's redirect URI, through every page."""
    response = browser.get(authorize_url)
    seen = []
    redirect_uri = settings["redirect_uri"]
    for _ in range(12):
        if response.status_code != 303:
            fail(f"expected a redirect, got {response.status_code}: {response.text[:300]}")
        location = response.headers["Location"]
        if location.startswith(redirect_uri):
            return location, seen
        path = urllib.parse.urlparse(location).path
        seen.append(path)
        page = browser.get(location)
        if page.status_code == 303:
            response = page
            continue
        if page.status_code != 200:
            fail(f"{path} answered {page.status_code}: {page.text[:300]}")
        fields = form_fields(page.text)
        if path == "/login":
            fields.update(citizen_number=settings["citizen_number"], password=settings["password"])
            response = browser.post("/login", fields)
        elif path == "/login/totp":
            fields.update(code=totp(settings["totp_secret"]))
            response = browser.post("/login/totp", fields)
        elif path == "/consent":
            claims = re.findall(r'data-claim="([^"]+)"', page.text)
            seen.append({"consent_claims": claims})
            fields.update(decision="allow")
            if 'name="explicit"' in page.text:
                fields.update(explicit="birthdate")
            response = browser.post("/consent", fields)
        else:
            fail(f"unexpected page {path}")
    fail("too many redirects")


def verify_id_token(id_token, jwks, settings, nonce):
    """Signature by the library itself for EdDSA and ES256, by pyca/cryptography for ML-DSA-65
    (authlib has no ML-DSA yet); then authlib's OpenID Connect claim checks either way."""
    header_b64, payload_b64, signature_b64 = id_token.split(".")
    header = json.loads(b64url_decode(header_b64))
    if header["alg"] != settings["id_token_alg"]:
        fail(f"ID token signed with {header['alg']}, expected {settings['id_token_alg']}")
    if header["alg"] == "ML-DSA-65":
        from cryptography.hazmat.primitives.asymmetric import mldsa
        key = next(k for k in jwks["keys"] if k.get("kid") == header["kid"])
        if key["kty"] != "AKP" or key["alg"] != "ML-DSA-65":
            fail("the JWKS key for the ML-DSA token is not an AKP ML-DSA-65 key")
        public = mldsa.MLDSA65PublicKey.from_public_bytes(b64url_decode(key["pub"]))
        public.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
        claims = CodeIDToken(json.loads(b64url_decode(payload_b64)), header)
    else:
        classical = JsonWebKey.import_key_set({"keys": [k for k in jwks["keys"] if k["kty"] != "AKP"]})
        claims = jwt.decode(id_token, classical, claims_cls=CodeIDToken)
    claims.options = {"iss": {"essential": True, "value": settings["issuer"]}}
    claims.params = {"nonce": nonce, "client_id": settings["client_id"]}
    claims.validate(leeway=5)
    return dict(claims)


def refused_forgeries(id_token, jwks, settings, nonce):
    """The library must refuse the token re-signed with `none`, with HS256 over the public key
    (algorithm confusion), and the genuine token with the wrong nonce."""
    header_b64, payload_b64, _ = id_token.split(".")
    outcomes = {}
    none_token = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + payload_b64 + "."
    classical = JsonWebKey.import_key_set({"keys": [k for k in jwks["keys"] if k["kty"] != "AKP"]})
    try:
        jwt.decode(none_token, classical, claims_cls=CodeIDToken).validate()
        outcomes["alg_none"] = "accepted"
    except Exception as err:  # noqa: BLE001 - any refusal will do
        outcomes["alg_none"] = f"refused: {type(err).__name__}"
    kid = json.loads(b64url_decode(header_b64)).get("kid")
    hs_header = b64url(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    public_bytes = json.dumps(next(k for k in jwks["keys"] if k.get("kid") == kid)).encode()
    signature = hmac.new(public_bytes, f"{hs_header}.{payload_b64}".encode(), hashlib.sha256).digest()
    hs_token = f"{hs_header}.{payload_b64}.{b64url(signature)}"
    try:
        jwt.decode(hs_token, classical, claims_cls=CodeIDToken).validate()
        outcomes["alg_hs256"] = "accepted"
    except Exception as err:  # noqa: BLE001
        outcomes["alg_hs256"] = f"refused: {type(err).__name__}"
    try:
        verify_id_token(id_token, jwks, settings, nonce + "-other")
        outcomes["nonce_mismatch"] = "accepted"
    except Exception as err:  # noqa: BLE001
        outcomes["nonce_mismatch"] = f"refused: {type(err).__name__}"
    return outcomes


def main():
    settings = json.load(sys.stdin)
    issuer = settings["issuer"]
    http = requests.Session()
    http.trust_env = False
    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    if metadata["issuer"] != issuer:
        fail("discovery names another issuer")
    token_endpoint = metadata["token_endpoint"]

    if settings["auth"] == "private_key_jwt":
        client_key = ECKey.import_key(settings["client_jwk"])
        alg = settings["client_jwk"]["alg"]
        session = OAuth2Session(
            settings["client_id"], client_key,
            token_endpoint_auth_method=PrivateKeyJWT(token_endpoint, alg=alg),
            revocation_endpoint_auth_method=PrivateKeyJWT(metadata["revocation_endpoint"], alg=alg),
            scope=settings["scope"], redirect_uri=settings["redirect_uri"],
            code_challenge_method="S256",
        )
        session.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg=alg))
        session.register_client_auth_method(PrivateKeyJWT(metadata["revocation_endpoint"], alg=alg))

        def par_auth():
            # RFC 9126 §2: the issuer identifier is a valid audience at the PAR endpoint.
            assertion = private_key_jwt_sign(client_key, settings["client_id"], issuer, alg=alg)
            return {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion.decode() if isinstance(assertion, bytes) else assertion}, None
    else:
        session = OAuth2Session(
            settings["client_id"], settings["client_secret"],
            token_endpoint_auth_method="client_secret_basic",
            revocation_endpoint_auth_method="client_secret_basic",
            scope=settings["scope"], redirect_uri=settings["redirect_uri"],
            code_challenge_method="S256",
        )

        def par_auth():
            return {}, (settings["client_id"], settings["client_secret"])
    session.trust_env = False

    verifier = generate_token(48)
    nonce = generate_token(16)
    state = generate_token(16)
    if settings["par"]:
        extra, basic = par_auth()
        pushed = http.post(metadata["pushed_authorization_request_endpoint"], data={
            "client_id": settings["client_id"], "response_type": "code",
            "redirect_uri": settings["redirect_uri"], "scope": settings["scope"],
            "state": state, "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            **extra,
        }, auth=basic)
        if pushed.status_code != 201:
            fail(f"PAR answered {pushed.status_code}: {pushed.text}")
        request_uri = pushed.json()["request_uri"]
        authorize_url = metadata["authorization_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": settings["client_id"], "request_uri": request_uri})
        session.state = state
    else:
        authorize_url, state = session.create_authorization_url(
            metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier)

    browser = Browser(issuer)
    callback, pages = log_in_and_consent(browser, authorize_url, settings)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(callback).query))
    if query.get("iss") != issuer:
        fail("the authorization response lacks the RFC 9207 iss parameter")
    token = session.fetch_token(token_endpoint, authorization_response=callback,
                                code_verifier=verifier, state=state)
    jwks = http.get(metadata["jwks_uri"]).json()
    claims = verify_id_token(token["id_token"], jwks, settings, nonce)
    userinfo = session.get(metadata["userinfo_endpoint"]).json()
    if userinfo.get("sub") != claims["sub"]:
        fail("userinfo names another subject than the ID token")

    refreshed = None
    if "refresh_token" in token:
        refreshed_token = session.refresh_token(token_endpoint, refresh_token=token["refresh_token"])
        refreshed = verify_id_token(refreshed_token["id_token"], jwks, settings, nonce)["sub"]
        # The first refresh token is spent: presenting it again must fail and revoke.
        try:
            session.refresh_token(token_endpoint, refresh_token=token["refresh_token"])
            fail("a used refresh token was accepted")
        except Exception:  # noqa: BLE001
            pass
        after_reuse = session.get(metadata["userinfo_endpoint"],
                                  headers={"Authorization": f"Bearer {refreshed_token['access_token']}"})
        if after_reuse.status_code != 401:
            fail("tokens survived the reuse of a refresh token")
        session.token = token

    session.revoke_token(metadata["revocation_endpoint"], token=token["access_token"])
    after_revoke = http.get(metadata["userinfo_endpoint"],
                            headers={"Authorization": f"Bearer {token['access_token']}"})

    print(json.dumps({
        "pages": pages,
        "id_token_header": json.loads(b64url_decode(token["id_token"].split(".")[0])),
        "claims": claims,
        "userinfo": userinfo,
        "token_response_keys": sorted(token.keys()),
        "refreshed_sub": refreshed,
        "forgeries": refused_forgeries(token["id_token"], jwks, settings, nonce),
        "userinfo_after_revoke": after_revoke.status_code,
        "raw": {"id_token": token["id_token"], "userinfo": userinfo},
    }))


if __name__ == "__main__":
    main()
