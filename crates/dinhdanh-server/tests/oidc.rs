//! The OpenID Connect provider end to end: a relying party built on authlib (Python) through
//! discovery, PAR, code + PKCE, the token exchange and ID token validation by the library; and
//! every refusal the provider owes, driven over HTTP with the provider's own pages.
//!
//! The authlib cases need `python3` with `authlib`, `requests` and an ML-DSA-capable
//! `cryptography`; without them they print SKIPPED, except under `CI=true`, where `.ci/run`
//! installs them and their absence fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::Stdio;

use common::{TestApp, expect_json, expect_problem, person_body, synthetic_people};
use dinhdanh_core::{AgeBracket, EidLevel, PersonStatus};
use dinhdanh_crypto::jose::{self, Jwk, Jwks};
use dinhdanh_crypto::{SignatureAlgorithm, SigningKey, TotpSecret, hash_password};
use dinhdanh_oidc::{Acr, ClientRegistration, CodeVerifier};
use dinhdanh_server::{OidcConfig, PROBLEM_BASE, register_client};
use dinhdanh_store::{NewAccount, OrganisationId, PersonId, PersonUpdate};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::io::Write;

const PASSWORD: &str = "mật khẩu thử nghiệm dài";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A citizen with an account: password and TOTP as the enrolment made them.
struct Citizen {
    id: PersonId,
    number: String,
    name: String,
    totp: TotpSecret,
}

/// Registers the `index`-th adult of the synthetic population and gives them an account.
async fn citizen(app: &TestApp, index: usize, level: EidLevel) -> Citizen {
    let person = registered_adult(app, index).await;
    with_account(app, &person, level).await
}

/// Gives a registered person an account (password and TOTP).
async fn with_account(
    app: &TestApp,
    person: &dinhdanh_synth::SyntheticPerson,
    level: EidLevel,
) -> Citizen {
    let id = find_id(app, person).await;
    if level == EidLevel::Level2 {
        app.store()
            .update_person(
                id,
                &PersonUpdate {
                    eid_level: Some(EidLevel::Level2),
                    ..PersonUpdate::default()
                },
            )
            .await
            .unwrap();
    }
    let totp = TotpSecret::generate().unwrap();
    app.store()
        .oidc()
        .insert_account(&NewAccount {
            person_id: id,
            password_hash: hash_password(PASSWORD).unwrap(),
            totp_secret: Some(zeroize::Zeroizing::new(totp.as_bytes().to_vec())),
            passkey: None,
        })
        .await
        .unwrap();
    Citizen {
        id,
        number: person.citizen_number.as_str().to_owned(),
        name: person.name.as_str().to_owned(),
        totp,
    }
}

async fn platform(app: &TestApp, tax_code: &str, name: &str) -> OrganisationId {
    let created = app
        .create_organisation(&json!({ "tax_code": tax_code, "name": name, "kind": "platform" }))
        .await;
    created["id"].as_str().unwrap().parse().unwrap()
}

/// How a test client authenticates.
enum Credentials {
    Secret(String),
    Key(Jwk),
}

struct TestClient {
    id: String,
    redirect_uri: String,
    credentials: Credentials,
}

#[allow(clippy::too_many_arguments)]
async fn client(
    app: &TestApp,
    organisation: OrganisationId,
    id: &str,
    redirect_uri: &str,
    scopes: &str,
    id_token_alg: &str,
    key: Option<SignatureAlgorithm>,
    min_level: u8,
) -> TestClient {
    let private = key.map(|alg| {
        Jwk::private(
            SigningKey::generate(alg).unwrap(),
            Some(format!("{id}-key")),
        )
    });
    let registration = ClientRegistration {
        client_id: id.to_owned(),
        name: format!("Ứng dụng {id}"),
        redirect_uris: vec![redirect_uri.to_owned()],
        sector: None,
        scopes: scopes.to_owned(),
        require_par: false,
        min_level,
        id_token_alg: Some(id_token_alg.to_owned()),
        auth_method: if private.is_some() {
            "private_key_jwt"
        } else {
            "client_secret_basic"
        }
        .to_owned(),
        jwks: private.as_ref().map(|key| {
            Jwks::new(vec![key.to_public()])
                .to_public_json()
                .to_string()
        }),
    };
    let registered = register_client(app.store(), organisation, &registration)
        .await
        .unwrap();
    TestClient {
        id: id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        credentials: match private {
            Some(key) => Credentials::Key(key),
            None => Credentials::Secret(registered.secret.unwrap().reveal().to_owned()),
        },
    }
}

/// A person's browser: cookies kept by hand (the provider's `__Host-` cookies are `Secure`,
/// which browsers honour on loopback HTTP), redirects never followed by themselves.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: {
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                reqwest::Client::builder()
            }
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
            base: app.base_url.clone(),
            cookies: HashMap::new(),
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(self.absolute(url))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(self.absolute(url))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect"
    );
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The value of a hidden input in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page:\n{page}"));
    let tag_start = page[..at].rfind('<').unwrap();
    let tag_end = at + page[at..].find('>').unwrap();
    let tag = &page[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1).unwrap();
    value[..value.find('"').unwrap()].to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn authorize_query(client: &TestClient, scope: &str, extra: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &client.id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &client.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    format!("/authorize?{}", query.finish())
}

/// Posts the login page's form (with its CSRF token) and the second factor; returns the
/// redirect after the second factor.
async fn log_in(browser: &mut Browser, login_url: &str, citizen: &Citizen) -> String {
    let form = PageForm::of(browser, login_url).await;
    let fields = [
        ("citizen_number", citizen.number.as_str()),
        ("password", PASSWORD),
    ];
    let totp_url = location(&form.post(browser, "/login", &fields).await);
    let form = PageForm::of(browser, &totp_url).await;
    let code = citizen
        .totp
        .code_at(jiff::Timestamp::now().as_second().try_into().unwrap())
        .unwrap();
    location(&form.post(browser, "/login/totp", &[("code", &code)]).await)
}

/// From `/authorize` through login and consent to the client's redirect URI.
async fn authorize(browser: &mut Browser, url: &str, citizen: &Citizen) -> String {
    let mut next = location(&browser.get(url).await);
    for _ in 0..6 {
        if !next.starts_with('/') {
            return next;
        }
        if next.starts_with("/login") {
            next = log_in(browser, &next, citizen).await;
            continue;
        }
        assert!(next.starts_with("/consent"), "unexpected step {next}");
        let page = browser.get(&next).await;
        if page.status() == StatusCode::SEE_OTHER {
            next = location(&page);
            continue;
        }
        let page = page.text().await.unwrap();
        let after = browser
            .post(
                "/consent",
                &[
                    ("tx", &hidden(&page, "tx")),
                    ("csrf", &hidden(&page, "csrf")),
                    ("lang", "en"),
                    ("decision", "allow"),
                ],
            )
            .await;
        next = location(&after);
    }
    panic!("the flow did not reach the client");
}

/// A token request with the client's credentials.
async fn token_request(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let request = app.client.post(app.url("/token"));
    let request = match &client.credentials {
        Credentials::Secret(secret) => request.basic_auth(&client.id, Some(secret)),
        Credentials::Key(key) => {
            let now = jiff::Timestamp::now().as_second();
            let claims = json!({
                "iss": client.id, "sub": client.id, "aud": app.url("/token"),
                "iat": now, "exp": now + 60, "jti": uuid::Uuid::now_v7().to_string(),
            });
            let assertion = jose::sign_compact(key, None, claims.to_string().as_bytes()).unwrap();
            form.push((
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            form.push(("client_assertion".into(), assertion));
            request
        }
    };
    request.form(&form).send().await.unwrap()
}

async fn exchange(app: &TestApp, client: &TestClient, code: &str) -> reqwest::Response {
    token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn oauth_error(response: reqwest::Response, status: StatusCode, error: &str) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    body
}

/// The ID token's payload after verification against the published JWKS.
async fn verified_id_token(app: &TestApp, id_token: &str) -> Value {
    let jwks = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let jwks = Jwks::from_json(&jwks.bytes().await.unwrap()).unwrap();
    let verified = jose::verify_compact_with_set(id_token, &jwks).unwrap();
    serde_json::from_slice(&verified.payload).unwrap()
}

async fn oidc_app() -> TestApp {
    TestApp::init().await
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_only_safe_choices() {
    let app = oidc_app().await;
    let body = expect_json(
        app.client
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["issuer"], app.base_url);
    assert_eq!(body["token_endpoint"], app.url("/token"));
    assert_eq!(
        body["pushed_authorization_request_endpoint"],
        app.url("/par")
    );
    assert_eq!(body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(body["response_types_supported"], json!(["code"]));
    assert_eq!(body["subject_types_supported"], json!(["pairwise"]));
    let algs = body["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ML-DSA-65")) && !algs.contains(&json!("none")));
    // Every algorithm offered has a published key.
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for alg in algs {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["alg"] == *alg),
            "no key for {alg}"
        );
    }
}

#[tokio::test]
async fn a_login_releases_only_what_was_asked_under_a_pairwise_subject() {
    let app = oidc_app().await;
    let citizen = citizen(&app, 0, EidLevel::Level1).await;
    let social = platform(&app, "0100000001", "Mạng Xã Hội Một").await;
    let shop = platform(&app, "0100000002", "Chợ Điện Tử Hai").await;
    let age_only = client(
        &app,
        social,
        "rp-social",
        "https://social.example.vn/cb",
        "openid verified age",
        "ML-DSA-65",
        Some(SignatureAlgorithm::MlDsa65),
        1,
    )
    .await;
    let with_name = client(
        &app,
        shop,
        "rp-shop",
        "https://shop.example.vn/cb",
        "openid verified age profile",
        "EdDSA",
        None,
        1,
    )
    .await;

    let mut browser = Browser::new(&app);
    let callback = authorize(
        &mut browser,
        &authorize_query(&age_only, "openid verified age", &[]),
        &citizen,
    )
    .await;
    assert!(
        callback.starts_with("https://social.example.vn/cb?"),
        "{callback}"
    );
    assert_eq!(query_param(&callback, "state").as_deref(), Some("st-1"));
    assert_eq!(
        query_param(&callback, "iss").as_deref(),
        Some(app.base_url.as_str())
    );
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &age_only, &code).await, StatusCode::OK).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = verified_id_token(&app, id_token).await;
    assert_eq!(claims["aud"], "rp-social");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["verified"], true);
    assert_eq!(claims["age_over_18"], true);
    assert!(
        claims.get("name").is_none(),
        "an age-only client got a name: {claims}"
    );
    assert!(claims.get("birthdate").is_none());
    assert_eq!(
        claims["acr"],
        dinhdanh_oidc::Acr::of_level(EidLevel::Level1)
            .unwrap()
            .as_str()
    );

    // The same person at a client of another sector: a different `sub`; the name only here.
    // The browser's session carries over: no second login, only this client's consent.
    let callback = authorize(
        &mut browser,
        &authorize_query(&with_name, "openid verified age profile", &[]),
        &citizen,
    )
    .await;
    let code = query_param(&callback, "code").unwrap();
    let other = expect_json(exchange(&app, &with_name, &code).await, StatusCode::OK).await;
    let other_claims = verified_id_token(&app, other["id_token"].as_str().unwrap()).await;
    assert_ne!(claims["sub"], other_claims["sub"]);
    assert_eq!(other_claims["name"], citizen.name);

    // Nothing a relying party receives holds the citizen number or the internal id.
    let userinfo = expect_json(
        app.client
            .get(app.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(userinfo["sub"], claims["sub"]);
    assert!(userinfo.get("name").is_none());
    for received in [
        tokens.to_string(),
        other.to_string(),
        claims.to_string(),
        other_claims.to_string(),
        userinfo.to_string(),
    ] {
        assert!(
            !received.contains(&citizen.number),
            "citizen number leaked: {received}"
        );
        assert!(
            !received.contains(&citizen.id.to_string()),
            "person id leaked: {received}"
        );
    }

    // The disclosures are in the person's log: two consents, two ID tokens, one userinfo.
    dinhdanh_server::publish_log(app.store().disclosure_log().as_ref(), 10_000)
        .await
        .unwrap();
    let log = expect_json(
        app.get(
            &app.reader,
            &format!("/v1/persons/{}/disclosures", citizen.id),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let disclosed: Vec<String> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["disclosed"].to_string())
        .collect();
    assert_eq!(
        disclosed.iter().filter(|d| d.contains("id_token")).count(),
        2,
        "{log}"
    );
    assert_eq!(
        disclosed.iter().filter(|d| d.contains("userinfo")).count(),
        1,
        "{log}"
    );
}

#[tokio::test]
async fn a_guardian_signs_in_for_a_child_under_14() {
    let app = oidc_app().await;
    let guardian = citizen(&app, 14, EidLevel::Level1).await;
    let child = registered_aged(&app, 6..14).await;
    let child_id = find_id(&app, &child).await;
    expect_json(
        app.post(
            &app.writer,
            &format!("/v1/persons/{child_id}/guardians"),
            &json!({ "guardian_id": guardian.id.to_string(), "relationship": "parent" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let org = platform(&app, "0100000014", "Trường Học Mười Bốn").await;
    let scope = "openid verified age profile";
    let rp = client(
        &app,
        org,
        "rp-school",
        "https://school.example.vn/cb",
        scope,
        "EdDSA",
        None,
        1,
    )
    .await;

    // The guardian logs in; the consent page offers the child, by name, by no internal id.
    let mut browser = Browser::new(&app);
    let login = login_page_for(&mut browser, &rp, scope).await;
    let consent_url = log_in(&mut browser, &login, &guardian).await;
    let page = browser.get(&consent_url).await.text().await.unwrap();
    assert!(page.contains(child.name.as_str()), "{page}");
    assert!(!page.contains(&child_id.to_string()));
    let choice = page
        .split("name=\"act_for\" value=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let post = |act_for: String| {
        vec![
            ("tx".to_owned(), hidden(&page, "tx")),
            ("csrf".to_owned(), hidden(&page, "csrf")),
            ("lang".to_owned(), "en".to_owned()),
            ("decision".to_owned(), "allow".to_owned()),
            ("act_for".to_owned(), act_for),
        ]
    };

    // A child the page did not offer: refused, and the request is still there to answer.
    let refused = browser
        .post("/consent", &pairs(&post("c2lzdGVy".to_owned())))
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let signed_in = browser.post("/consent", &pairs(&post(choice))).await;
    let callback = location(&signed_in);
    assert!(
        callback.starts_with("https://school.example.vn/cb?"),
        "{callback}"
    );
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let for_child = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(for_child["name"], child.name.as_str());
    assert_eq!(for_child["age_over_16"], false);
    let actor = for_child["act"]["sub"].as_str().unwrap().to_owned();
    assert_ne!(for_child["sub"].as_str().unwrap(), actor);
    let userinfo = expect_json(
        app.client
            .get(app.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(userinfo["act"]["sub"], actor.as_str());

    // The guardian signing in for themselves (the default choice): their own `sub` is the
    // actor's, and nobody acts for them.
    let callback = authorize(&mut browser, &authorize_query(&rp, scope, &[]), &guardian).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let for_self = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(for_self["sub"], actor.as_str());
    assert!(for_self.get("act").is_none());
    assert_eq!(for_self["name"], guardian.name);

    // The child's own log shows the guardian's consent and what the client received.
    dinhdanh_server::publish_log(app.store().disclosure_log().as_ref(), 10_000)
        .await
        .unwrap();
    let log = expect_json(
        app.get(&app.reader, &format!("/v1/persons/{child_id}/disclosures"))
            .await,
        StatusCode::OK,
    )
    .await
    .to_string();
    assert!(log.contains("guardian-consent"), "{log}");
    assert!(log.contains("\"act\""), "{log}");
}

#[tokio::test]
async fn platforms_bind_accounts_within_the_limit_and_learn_when_they_stop_holding() {
    let app = TestApp::builder()
        .with_oidc(OidcConfig {
            accounts_per_platform: 2,
            ..OidcConfig::default()
        })
        .start()
        .await;
    let adult = citizen(&app, 15, EidLevel::Level1).await;
    let org = platform(&app, "0100000015", "Mạng Xã Hội Mười Lăm").await;
    let scope = "openid verified age";
    let rp = client(
        &app,
        org,
        "rp-social-15",
        "https://social15.example.vn/cb",
        scope,
        "EdDSA",
        Some(SignatureAlgorithm::Ed25519),
        1,
    )
    .await;
    let mut browser = Browser::new(&app);
    let sub_of = |claims: &Value| claims["sub"].as_str().unwrap().to_owned();
    let callback = authorize(&mut browser, &authorize_query(&rp, scope, &[]), &adult).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let sub = sub_of(&verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await);

    // The platform's own access token (client credentials, private_key_jwt).
    let granted = expect_json(
        token_request(&app, &rp, &[("grant_type", "client_credentials")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(granted["scope"], "bindings signals");
    assert_eq!(granted["token_type"], "Bearer");
    let access = granted["access_token"].as_str().unwrap().to_owned();
    let refused = token_request(
        &app,
        &rp,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "subscribers"),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    // A client of an organisation with no service APIs gets none.
    let ministry = app
        .create_organisation(
            &json!({ "tax_code": "0100000016", "name": "Bộ Mẫu", "kind": "ministry" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let agency = client(
        &app,
        ministry,
        "rp-ministry",
        "https://bo.example.vn/cb",
        scope,
        "EdDSA",
        None,
        1,
    )
    .await;
    let none = token_request(&app, &agency, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        none.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    let bind = |token: String, sub: String, handle: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/bindings"))
                .bearer_auth(token)
                .json(&json!({ "sub": sub, "handle": handle }))
                .send()
                .await
                .unwrap()
        }
    };
    let first = bind(access.clone(), sub.clone(), "@mot").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().contains_key("dinhdanh-disclosure"));
    let first = first.json::<Value>().await.unwrap();
    assert_eq!(
        (first["valid"].clone(), first["status"].clone()),
        (json!(true), json!("active"))
    );
    assert_eq!(first["age_over_18"], true);
    assert!(first.get("guardian_consent").is_none());
    let taken = bind(access.clone(), sub.clone(), "@mot").await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(
        taken.json::<Value>().await.unwrap()["type"],
        format!("{PROBLEM_BASE}handle-bound")
    );
    assert_eq!(
        bind(access.clone(), sub.clone(), "@hai").await.status(),
        StatusCode::CREATED
    );
    // The binding after the limit is refused, and says why.
    let over = bind(access.clone(), sub.clone(), "@ba").await;
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let over = over.json::<Value>().await.unwrap();
    assert_eq!(over["type"], format!("{PROBLEM_BASE}binding-limit"));
    assert!(over["detail"].as_str().unwrap().contains('2'), "{over}");
    // A `sub` no login of this platform produced, no token, an operator's token, bad fields.
    let unknown = bind(access.clone(), "nobody-has-this-sub".to_owned(), "@bon").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let anonymous = app
        .client
        .post(app.url("/v1/bindings"))
        .json(&json!({ "sub": sub, "handle": "@nam" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bind(app.admin.clone(), sub.clone(), "@sau").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let control = app
        .client
        .post(app.url("/v1/bindings"))
        .bearer_auth(&access)
        .json(&json!({ "sub": sub, "handle": "bad\u{0}handle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Checking: valid now; after the person is recorded deceased, not valid, and why.
    let check = |token: String, id: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/v1/bindings/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let id = first["id"].as_str().unwrap().to_owned();
    let now = expect_json(check(access.clone(), id.clone()).await, StatusCode::OK).await;
    assert_eq!(
        (now["valid"].clone(), now["reasons"].clone()),
        (json!(true), json!([]))
    );
    app.store()
        .update_person(
            adult.id,
            &PersonUpdate {
                status: Some(PersonStatus::Deceased),
                ..PersonUpdate::default()
            },
        )
        .await
        .unwrap();
    let later = expect_json(check(access.clone(), id.clone()).await, StatusCode::OK).await;
    assert_eq!(later["valid"], false);
    assert_eq!(later["reasons"], json!(["person_deceased"]));

    // Another platform cannot see this platform's binding.
    let other_org = platform(&app, "0100000017", "Mạng Xã Hội Khác").await;
    let other = client(
        &app,
        other_org,
        "rp-other-17",
        "https://other17.example.vn/cb",
        scope,
        "EdDSA",
        None,
        1,
    )
    .await;
    let other_access = service_token(&app, &other).await;
    assert_eq!(
        check(other_access.clone(), id.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    // RFC 7009: the platform ends its own token; it no longer opens anything.
    let Credentials::Secret(secret) = &other.credentials else {
        panic!("a client without a key authenticates with its secret");
    };
    let revoked = app
        .client
        .post(app.url("/revoke"))
        .basic_auth(&other.id, Some(secret))
        .form(&[("token", other_access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        check(other_access, id).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A person under 16: the binding waits for a guardian, and the platform sees it.
    let teen = registered_aged(&app, 14..16).await;
    let teen = with_account(&app, &teen, EidLevel::Level1).await;
    let mut browser = Browser::new(&app);
    let callback = authorize(&mut browser, &authorize_query(&rp, scope, &[]), &teen).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let teen_sub = sub_of(&verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await);
    let pending = bind(access.clone(), teen_sub, "@thieu.nien").await;
    assert_eq!(pending.status(), StatusCode::CREATED);
    let pending = pending.json::<Value>().await.unwrap();
    assert_eq!(pending["status"], "pending_guardian");
    assert_eq!(pending["guardian_consent"], "pending");
    assert_eq!(pending["valid"], false);
    assert_eq!(pending["reasons"], json!(["guardian_consent_pending"]));
    assert_eq!(pending["age_over_16"], false);

    // Every answer is in the person's disclosure log.
    dinhdanh_server::publish_log(app.store().disclosure_log().as_ref(), 10_000)
        .await
        .unwrap();
    let log = expect_json(
        app.get(
            &app.reader,
            &format!("/v1/persons/{}/disclosures", adult.id),
        )
        .await,
        StatusCode::OK,
    )
    .await
    .to_string();
    assert!(log.contains("binding a platform account"), "{log}");
    assert!(log.contains("checking a platform account"), "{log}");
}

#[tokio::test]
async fn a_guardian_approves_and_revokes_a_childs_binding_and_a_person_disowns_one() {
    let app = oidc_app().await;
    let guardian = citizen(&app, 18, EidLevel::Level1).await;
    let young = registered_aged(&app, 14..16).await;
    let teen = with_account(&app, &young, EidLevel::Level1).await;
    expect_json(
        app.post(
            &app.writer,
            &format!("/v1/persons/{}/guardians", teen.id),
            &json!({ "guardian_id": guardian.id.to_string(), "relationship": "parent" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let scope = "openid verified age";
    // The platform polls a Shared Signals stream, and has guardian events pushed to a
    // receiver of its own.
    let (rp, access, poll_path) = polling_platform(&app, 18, scope).await;
    let receiver = receiver().await;
    expect_json(
        app.client
            .post(app.url("/ssf/streams"))
            .bearer_auth(&access)
            .json(&json!({
                "delivery": {
                    "method": "urn:ietf:rfc:8935",
                    "endpoint_url": receiver.url,
                    "authorization_header": "Bearer receiver-secret",
                },
                "events_requested": ["urn:dinhdanh:secevent:event-type:guardian-consent-revoked"],
            }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let mut teen_browser = Browser::new(&app);
    let signed_in = sign_in_and_bind(&app, &mut teen_browser, &rp, scope, &teen, &access).await;
    let (sub, bound) = (signed_in.sub, signed_in.binding);
    let id = bound["id"].as_str().unwrap().to_owned();
    let check = async || {
        expect_json(
            app.client
                .get(app.url(&format!("/v1/bindings/{id}")))
                .bearer_auth(&access)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    };

    // The guardian's page: /me asks for a login first, then lists the child's binding.
    let mut browser = Browser::new(&app);
    let login = location(&browser.get("/me?lang=en").await);
    assert!(login.starts_with("/login?tx=me"), "{login}");
    let after = log_in(&mut browser, &login, &guardian).await;
    assert!(after.starts_with("/me?tx=me"), "{after}");
    let page = browser.get(&after).await.text().await.unwrap();
    assert!(page.contains(&format!("data-binding=\"{id}\"")), "{page}");
    assert!(
        page.contains("@rp-social-18") && page.contains(&teen.name),
        "{page}"
    );
    let act = async |browser: &mut Browser, page: &str, action: &str| {
        browser
            .post(
                "/me/bindings",
                &[
                    ("tx", "me"),
                    ("csrf", &hidden(page, "csrf")),
                    ("lang", "en"),
                    ("binding", id.as_str()),
                    ("action", action),
                ],
            )
            .await
    };
    // Without its CSRF token nothing changes.
    let forged = browser
        .post(
            "/me/bindings",
            &[
                ("tx", "me"),
                ("binding", id.as_str()),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        check().await["reasons"],
        json!(["guardian_consent_pending"])
    );
    // A guardian cannot unlink the child's account: the page says so, nothing changes.
    let refused = act(&mut browser, &page, "unlink").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let approved = act(&mut browser, &page, "approve").await;
    assert_eq!(location(&approved), "/me?tx=me&lang=en");
    let now = check().await;
    assert_eq!(now["valid"], true, "{now}");
    assert_eq!(now["guardian_consent"], "approved");
    let revoked = act(&mut browser, &page, "revoke").await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    // The platform hears of it: a guardian-consent-revoked event about the child's subject,
    // verified against the JWKS.
    let events = poll_events(&app, &access, &poll_path).await;
    let revocation = events
        .iter()
        .find_map(|event| {
            event["events"].get("urn:dinhdanh:secevent:event-type:guardian-consent-revoked")
        })
        .unwrap_or_else(|| panic!("no guardian-consent-revoked event: {events:?}"));
    assert_eq!(revocation["binding"], id.as_str());
    assert_eq!(revocation["guardian_consent"], "revoked");
    // The same event, pushed to the platform's receiver.
    let pushed = receiver.wait_for(1).await;
    assert_eq!(pushed.len(), 1);
    let pushed = verified_id_token(&app, &pushed[0]).await;
    assert_eq!(
        pushed["events"]["urn:dinhdanh:secevent:event-type:guardian-consent-revoked"],
        *revocation
    );
    assert_eq!(pushed["sub_id"]["sub"], sub.as_str());
    assert!(
        events
            .iter()
            .all(|event| event["sub_id"]["sub"] == sub.as_str())
    );
    let now = check().await;
    assert_eq!(now["valid"], false);
    assert_eq!(now["status"], "refused");
    assert_eq!(now["reasons"], json!(["guardian_consent_revoked"]));

    // The day the teen turns 16 (on Vietnam's calendar), the platform hears of it, once; the
    // day before, nothing moves. The announcer takes its clock from the caller.
    let day = jiff::SignedDuration::from_hours(24);
    let mut sixteenth = jiff::Timestamp::now();
    while AgeBracket::at(&young.birth_date, sixteenth) != AgeBracket::From16To17 {
        sixteenth += day;
    }
    let state = app.state();
    assert_eq!(
        dinhdanh_server::announce_ages(&state, sixteenth - day)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        dinhdanh_server::announce_ages(&state, sixteenth)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        dinhdanh_server::announce_ages(&state, sixteenth)
            .await
            .unwrap(),
        0,
        "announced once"
    );
    let events = poll_events(&app, &access, &poll_path).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let turned = &events[0]["events"]["urn:dinhdanh:secevent:event-type:age-bracket-changed"];
    assert_eq!(turned["age_over_16"], true, "{events:?}");
    assert_eq!(turned["age_over_18"], false, "{events:?}");
    assert_eq!(events[0]["sub_id"]["sub"], sub.as_str());

    // The teen's own page, in the session of their earlier login: the binding is theirs to
    // disown; the platform then learns that and nothing more.
    let page = teen_browser.get("/me?lang=en").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("@rp-social-18"), "{page}");
    let disowned = act(&mut teen_browser, &page, "not_mine").await;
    assert_eq!(disowned.status(), StatusCode::SEE_OTHER);
    let now = check().await;
    assert_eq!(now["reasons"], json!(["reported_not_mine"]));
    assert!(now.get("age_over_16").is_none(), "{now}");
    // Someone else's binding id is not the person's to change.
    let stranger = citizen(&app, 19, EidLevel::Level1).await;
    let mut other = Browser::new(&app);
    let login = location(&other.get("/me?lang=en").await);
    let after = log_in(&mut other, &login, &stranger).await;
    let page = other.get(&after).await.text().await.unwrap();
    assert!(page.contains("id=\"no-bindings\""), "{page}");
    // (The page has no form; the login page of the same transaction carries the token.)
    let with_token = other
        .get("/login?tx=me&lang=en")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        act(&mut other, &with_token, "approve").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_provider_refuses_what_it_must() {
    let app = oidc_app().await;
    let citizen = citizen(&app, 1, EidLevel::Level1).await;
    let org = platform(&app, "0100000003", "Dịch Vụ Ba").await;
    let rp = client(
        &app,
        org,
        "rp-three",
        "https://three.example.vn/cb",
        "openid verified age",
        "ES256",
        None,
        1,
    )
    .await;
    let strict = client(
        &app,
        org,
        "rp-level2",
        "https://level2.example.vn/cb",
        "openid verified",
        "ES256",
        None,
        2,
    )
    .await;
    let mut browser = Browser::new(&app);

    // A redirect URI that differs by one character: an error page, never a redirect.
    let mut wrong = TestClient {
        redirect_uri: "https://three.example.vn/cc".into(),
        ..client_ref(&rp)
    };
    let page = browser.get(&authorize_query(&wrong, "openid", &[])).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
    wrong.redirect_uri = "https://three.example.vn/cb/".into();
    assert_eq!(
        browser
            .get(&authorize_query(&wrong, "openid", &[]))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    // PKCE missing or `plain`: back to the client with invalid_request.
    for (challenge, method) in [("", ""), (VERIFIER, "plain")] {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", &rp.id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &rp.redirect_uri)
            .append_pair("scope", "openid")
            .append_pair("state", "s");
        if !challenge.is_empty() {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", method);
        }
        let to = location(&browser.get(&format!("/authorize?{}", query.finish())).await);
        assert!(to.starts_with(&rp.redirect_uri), "{to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request"),
            "{to}"
        );
    }

    // A form without its CSRF token changes nothing.
    let login = login_page_for(&mut browser, &rp, "openid").await;
    let tx = PageForm::of(&mut browser, &login).await.tx;
    for csrf in ["", "forged"] {
        let refused = browser
            .post(
                "/login",
                &[
                    ("tx", &tx),
                    ("csrf", csrf),
                    ("citizen_number", &citizen.number),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.headers().get(LOCATION).is_none());
        assert!(refused.headers().get(SET_COOKIE).is_none());
    }

    // A good code works once; the second use fails and revokes what the first issued.
    let callback = authorize(
        &mut browser,
        &authorize_query(&rp, "openid verified age", &[]),
        &citizen,
    )
    .await;
    let code = query_param(&callback, "code").unwrap();
    let first = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let access = first["access_token"].as_str().unwrap();
    let userinfo = |token: String| {
        let request = app.client.get(app.url("/userinfo")).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(userinfo(access.to_owned()).await, StatusCode::OK);
    oauth_error(
        exchange(&app, &rp, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(userinfo(access.to_owned()).await, StatusCode::UNAUTHORIZED);

    // Wrong client authentication: a wrong secret, and no authentication at all.
    let callback = authorize(&mut browser, &authorize_query(&rp, "openid", &[]), &citizen).await;
    let code = query_param(&callback, "code").unwrap();
    let impostor = TestClient {
        credentials: Credentials::Secret("ddo_wrong".into()),
        ..client_ref(&rp)
    };
    oauth_error(
        exchange(&app, &impostor, &code).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let bare = app
        .client
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &rp.redirect_uri),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(bare, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // The code survived the failed attempts of others, and a wrong verifier spends it.
    let wrong_verifier = token_request(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &rp.redirect_uri),
            ("code_verifier", &"a".repeat(43)),
        ],
    )
    .await;
    oauth_error(wrong_verifier, StatusCode::BAD_REQUEST, "invalid_grant").await;
    oauth_error(
        exchange(&app, &rp, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    // A level-1 login where the client requires level 2: refused, no code.
    let consent = location(
        &browser
            .get(&authorize_query(&strict, "openid verified", &[]))
            .await,
    );
    let page = browser.get(&consent).await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.headers().get(LOCATION).is_none());
    // The page offers a way back that tells the client why, and carries no code.
    let page = page.text().await.unwrap();
    assert!(
        page.contains("href=\"https://level2.example.vn/cb?error=access_denied")
            && page.contains("state=st-1"),
        "{page}"
    );
    assert!(!page.contains("code="), "{page}");

    // An ID token re-signed with another algorithm or `none` fails against the JWKS.
    let claims = verified_id_token(&app, first["id_token"].as_str().unwrap()).await;
    let payload = claims.to_string();
    let jwks = Jwks::from_json(
        &app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let ed25519 = jwks
        .keys()
        .iter()
        .find(|k| k.algorithm() == SignatureAlgorithm::Ed25519)
        .unwrap();
    let attacker = Jwk::private(
        SigningKey::generate(SignatureAlgorithm::Ed25519).unwrap(),
        ed25519.kid().map(str::to_owned),
    );
    let resigned = jose::sign_compact(&attacker, Some("JWT"), payload.as_bytes()).unwrap();
    assert!(jose::verify_compact_with_set(&resigned, &jwks).is_err());
    let es256_kid = jose::verify_compact_with_set(first["id_token"].as_str().unwrap(), &jwks)
        .unwrap()
        .header["kid"]
        .clone();
    let confused = jose::sign_compact(
        &Jwk::private(
            SigningKey::generate(SignatureAlgorithm::Ed25519).unwrap(),
            es256_kid.as_str().map(str::to_owned),
        ),
        Some("JWT"),
        payload.as_bytes(),
    )
    .unwrap();
    assert!(
        jose::verify_compact_with_set(&confused, &jwks).is_err(),
        "an EdDSA token under the ES256 key's kid"
    );
    let parts: Vec<&str> = first["id_token"].as_str().unwrap().split('.').collect();
    let none_header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    assert!(jose::verify_compact_with_set(&format!("{none_header}.{}.", parts[1]), &jwks).is_err());
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn client_ref(client: &TestClient) -> TestClient {
    TestClient {
        id: client.id.clone(),
        redirect_uri: client.redirect_uri.clone(),
        credentials: match &client.credentials {
            Credentials::Secret(secret) => Credentials::Secret(secret.clone()),
            Credentials::Key(key) => Credentials::Key(key.clone()),
        },
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::builder()
        .with_oidc(OidcConfig {
            code_ttl_seconds: 1,
            ..OidcConfig::default()
        })
        .start()
        .await;
    let citizen = citizen(&app, 2, EidLevel::Level1).await;
    let org = platform(&app, "0100000004", "Dịch Vụ Bốn").await;
    let rp = client(
        &app,
        org,
        "rp-four",
        "https://four.example.vn/cb",
        "openid verified",
        "EdDSA",
        None,
        1,
    )
    .await;
    let mut browser = Browser::new(&app);
    let callback = authorize(
        &mut browser,
        &authorize_query(&rp, "openid verified", &[]),
        &citizen,
    )
    .await;
    let code = query_param(&callback, "code").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let body = oauth_error(
        exchange(&app, &rp, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn a_level_two_login_satisfies_a_level_two_client_and_pkce_binds_the_code() {
    let app = oidc_app().await;
    let citizen = citizen(&app, 3, EidLevel::Level2).await;
    let org = platform(&app, "0100000005", "Dịch Vụ Năm").await;
    let rp = client(
        &app,
        org,
        "rp-five",
        "https://five.example.vn/cb",
        "openid verified",
        "ML-DSA-65",
        Some(SignatureAlgorithm::MlDsa65),
        2,
    )
    .await;
    let mut browser = Browser::new(&app);
    let callback = authorize(
        &mut browser,
        &authorize_query(&rp, "openid verified", &[]),
        &citizen,
    )
    .await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let claims = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["acr"],
        dinhdanh_oidc::Acr::of_level(EidLevel::Level2)
            .unwrap()
            .as_str()
    );
    assert!(CodeVerifier::parse(VERIFIER).unwrap().challenge().encoded() == CHALLENGE);
}

// ------------------------------------------------------------------------------------------
// authlib
// ------------------------------------------------------------------------------------------

fn python_with_authlib() -> bool {
    let probe = std::process::Command::new("python3")
        .args([
            "-c",
            "import authlib, requests\nfrom cryptography.hazmat.primitives.asymmetric import mldsa",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|status| status.success()) {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true needs python3 with authlib, requests and cryptography >= 48; .ci/run installs them"
        );
    }
    eprintln!(
        "SKIPPED: python3 with authlib, requests and an ML-DSA-capable cryptography is not installed"
    );
    false
}

/// Runs a Python script of `tests/` with `settings` on stdin; its stdout is one JSON object.
async fn run_python(script: &str, settings: &Value) -> Value {
    let script = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let input = settings.to_string();
    // The relying party talks to the server on this test's runtime: wait for it off that
    // thread.
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .env("AUTHLIB_INSECURE_TRANSPORT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "relying party failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|err| panic!("{err}: {stdout}"))
}

#[tokio::test]
async fn authlib_logs_in_through_par_pkce_and_validates_the_id_token() {
    if !python_with_authlib() {
        return;
    }
    let app = oidc_app().await;
    let org = platform(&app, "0100000006", "Mạng Xã Hội Sáu").await;
    // One citizen per run: a TOTP code's time step is accepted once.
    for (run, (id, id_alg, key, par, scope)) in [
        (
            "rp-eddsa",
            "EdDSA",
            Some(SignatureAlgorithm::EcdsaP256),
            true,
            "openid verified age",
        ),
        ("rp-es256", "ES256", None, true, "openid verified profile"),
        (
            "rp-mldsa",
            "ML-DSA-65",
            None,
            false,
            "openid verified age offline_access",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let citizen = citizen(&app, 4 + run, EidLevel::Level1).await;
        let redirect_uri = format!("https://{id}.example.vn/cb");
        let rp = client(&app, org, id, &redirect_uri, scope, id_alg, key, 1).await;
        let mut settings = json!({
            "issuer": app.base_url, "client_id": id, "redirect_uri": redirect_uri, "scope": scope,
            "citizen_number": citizen.number, "password": PASSWORD,
            "totp_secret": citizen.totp.base32().unwrap(), "par": par, "id_token_alg": id_alg,
        });
        match &rp.credentials {
            Credentials::Key(key) => {
                let mut jwk = key.to_json();
                jwk["alg"] = json!("ES256");
                settings["auth"] = json!("private_key_jwt");
                settings["client_jwk"] = jwk;
            }
            Credentials::Secret(secret) => {
                settings["auth"] = json!("client_secret_basic");
                settings["client_secret"] = json!(secret);
            }
        }
        let seen = run_python("oidc_rp.py", &settings).await;
        assert_eq!(seen["id_token_header"]["alg"], id_alg, "{seen}");
        let claims = &seen["claims"];
        assert_eq!(claims["verified"], true, "{seen}");
        assert_eq!(claims["iss"], app.base_url);
        assert_eq!(claims["aud"], id);
        assert_eq!(
            claims.get("name").is_some(),
            scope.contains("profile"),
            "{seen}"
        );
        assert_eq!(seen["userinfo"]["sub"], claims["sub"]);
        assert_eq!(seen["userinfo_after_revoke"], 401, "{seen}");
        for forgery in ["alg_none", "alg_hs256", "nonce_mismatch"] {
            assert!(
                seen["forgeries"][forgery]
                    .as_str()
                    .unwrap()
                    .starts_with("refused"),
                "{forgery}: {seen}"
            );
        }
        if scope.contains("offline_access") {
            assert_eq!(seen["refreshed_sub"], claims["sub"], "{seen}");
        }
        let raw = seen["raw"].to_string();
        assert!(!raw.contains(&citizen.number) && !raw.contains(&citizen.id.to_string()));
    }
}

// ------------------------------------------------------------------------------------------
// Chromium
// ------------------------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn real_browser() -> bool {
    let selenium = std::process::Command::new("python3")
        .args(["-c", "import selenium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let found = selenium
        && std::path::Path::new(CHROMIUM).exists()
        && std::path::Path::new(CHROMEDRIVER).exists();
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true needs chromium, chromium-driver and python3 selenium; .ci/run installs them"
        );
    }
    eprintln!(
        "SKIPPED: headless Chromium needs Debian's chromium and chromium-driver and python3 selenium"
    );
    false
}

#[tokio::test]
async fn a_person_logs_in_and_consents_in_a_real_browser() {
    if !real_browser() {
        return;
    }
    let app = oidc_app().await;
    let citizen = citizen(&app, 8, EidLevel::Level1).await;
    let org = platform(&app, "0100000008", "Mạng Xã Hội Tám").await;
    // The relying party's callback is on the test server: the browser lands on a 404 there,
    // with the code in its address bar.
    let redirect_uri = app.url("/rp/callback");
    let scope = "openid verified age profile";
    let rp = client(
        &app,
        org,
        "rp-browser",
        &redirect_uri,
        scope,
        "ML-DSA-65",
        None,
        1,
    )
    .await;
    let settings = json!({
        "authorize_url": app.url(&authorize_query(&rp, scope, &[])),
        "redirect_uri": redirect_uri,
        "citizen_number": citizen.number,
        "password": PASSWORD,
        "totp_secret": citizen.totp.base32().unwrap(),
        "chromium": CHROMIUM,
        "chromedriver": CHROMEDRIVER,
    });
    let seen = run_python("oidc_browser.py", &settings).await;
    let pages = seen["pages"].as_array().unwrap();
    let paths: Vec<&str> = pages.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/login", "/login/totp", "/consent"], "{seen}");
    for page in pages {
        assert_eq!(page["lang"], "vi", "Vietnamese by default: {page}");
        assert_eq!(
            page["unlabelled"],
            json!([]),
            "every input has a label: {page}"
        );
        assert!(!page["h1"].as_str().unwrap().is_empty());
    }
    let consent = &pages[2];
    assert_eq!(
        consent["claims"],
        json!([
            "verified",
            "age_over_13",
            "age_over_16",
            "age_over_18",
            "name"
        ]),
        "{consent}"
    );
    assert!(
        consent["text"]
            .as_str()
            .unwrap()
            .contains("Mạng Xã Hội Tám"),
        "{consent}"
    );
    let final_url = seen["final_url"].as_str().unwrap();
    assert_eq!(query_param(final_url, "state").as_deref(), Some("st-1"));
    let code = query_param(final_url, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let claims = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["name"], citizen.name);
}

#[tokio::test]
async fn a_person_enrols_with_a_passkey_and_logs_in_with_it_in_a_real_browser() {
    if !real_browser() {
        return;
    }
    // Passkeys need a domain name for the site: the server is `localhost` here.
    let app = TestApp::builder().on_localhost().start().await;
    let person = registered_adult(&app, 12).await;
    let org = platform(&app, "0100000012", "Mạng Xã Hội Mười Hai").await;
    let redirect_uri = app.url("/rp/callback");
    // `profile` needs consent, so the person passes the consent page too.
    let scope = "openid verified age profile";
    let rp = client(
        &app,
        org,
        "rp-passkey",
        &redirect_uri,
        scope,
        "ES256",
        None,
        1,
    )
    .await;
    let settings = json!({
        "flow": "passkey",
        "authorize_url": app.url(&authorize_query(&rp, scope, &[])),
        "redirect_uri": redirect_uri,
        "citizen_number": person.citizen_number.as_str(),
        "name": person.name.as_str(),
        "birth_date": person.birth_date.to_string(),
        "password": ENROL_PASSWORD,
        "chromium": CHROMIUM,
        "chromedriver": CHROMEDRIVER,
    });
    let seen = run_python("oidc_browser.py", &settings).await;
    let pages = seen["pages"].as_array().unwrap();
    let paths: Vec<&str> = pages.iter().map(|p| p["path"].as_str().unwrap()).collect();
    // Login page, enrolment form, the passkey creation page (the answer to the form's post),
    // enrolled, the passkey step of the login, consent.
    assert_eq!(
        paths,
        [
            "/login",
            "/enrol",
            "/enrol",
            "/enrol/passkey",
            "/login/passkey",
            "/consent"
        ],
        "{seen}"
    );
    for page in pages {
        assert_eq!(page["lang"], "vi", "Vietnamese by default: {page}");
        assert_eq!(
            page["unlabelled"],
            json!([]),
            "every input has a label: {page}"
        );
    }
    assert_eq!(
        pages[3]["credentials"], 1,
        "the authenticator holds one passkey"
    );
    // The account was made with the passkey, and no TOTP secret.
    let account = app
        .store()
        .oidc()
        .find_account(find_id(&app, &person).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((account.passkeys, account.totp_secret.is_none()), (1, true));
    let final_url = seen["final_url"].as_str().unwrap();
    let code = query_param(final_url, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let claims = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["verified"], true);
    assert_eq!(claims["name"], person.name.as_str());
}

#[tokio::test]
async fn passkey_steps_refuse_what_does_not_verify_and_change_nothing() {
    // A site named by an IP address cannot hold passkeys: they are not offered, and asking
    // for one anyway is a malformed form.
    let app = oidc_app().await;
    let person = registered_adult(&app, 13).await;
    let (mut browser, form) = enrolment_form(&app, "0100000013").await;
    let page = browser
        .get(&format!("/enrol?tx={}&lang=en", form.tx))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("second_factor"));
    let refused = enrol_with(&mut browser, &form, &person, "passkey").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!has_account(&app, &person).await);

    let app = TestApp::builder().on_localhost().start().await;
    let person = registered_adult(&app, 13).await;
    let (mut browser, form) = enrolment_form(&app, "0100000013").await;
    let page = browser
        .get(&format!("/enrol?tx={}&lang=en", form.tx))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"second_factor_passkey\""));
    // A form with a second factor nobody offers is malformed.
    let odd = enrol_with(&mut browser, &form, &person, "sms").await;
    assert_eq!(odd.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The right details with a passkey: the creation page, and still no account.
    let started = enrol_with(&mut browser, &form, &person, "passkey").await;
    assert_eq!(started.status(), StatusCode::OK);
    let csp = started.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = started.text().await.unwrap();
    assert!(page.contains("data-ceremony=\"create\""), "{page}");
    assert!(page.contains("<script src=\"/assets/passkey.js\"></script>"));
    assert!(
        !page.contains(person.name.as_str()) && !page.contains(person.citizen_number.as_str()),
        "the authenticator's label carries no personal data"
    );
    assert!(!has_account(&app, &person).await);
    let passkey_form = PageForm {
        tx: hidden(&page, "tx"),
        csrf: hidden(&page, "csrf"),
    };
    let ceremony = hidden(&page, "ceremony");

    // Without its CSRF token the answer changes nothing, and the ceremony stays.
    let forged = browser
        .post(
            "/enrol/passkey",
            &[
                ("tx", form.tx.as_str()),
                ("ceremony", &ceremony),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // An answer that is not a credential: refused, no account, and a new ceremony on the same
    // page (the details were right). The old ceremony is used up: answering it again leads
    // back to the enrolment form.
    let answers = [
        "{}",
        "{\"id\":\"AAAA\",\"rawId\":\"AAAA\",\"type\":\"public-key\"}",
    ];
    let mut pages = Vec::new();
    for answer in answers {
        let refused = passkey_form
            .post(
                &mut browser,
                "/enrol/passkey",
                &[("ceremony", &ceremony), ("credential", answer)],
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = refused.text().await.unwrap();
        let alert = alert(&page).unwrap();
        assert!(alert.contains("passkey was not accepted"), "{alert}");
        assert!(!has_account(&app, &person).await);
        pages.push(page);
    }
    assert!(pages[0].contains("data-ceremony=\"create\""));
    assert_ne!(hidden(&pages[0], "ceremony"), ceremony);
    assert!(pages[1].contains("action=\"/enrol\""));
    assert!(!pages[1].contains("data-ceremony"));
    // The login step with an enrolment's reference and no password step: expired, no fault.
    let crossed = passkey_form
        .post(
            &mut browser,
            "/login/passkey",
            &[
                ("ceremony", &hidden(&pages[0], "ceremony")),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(crossed.status(), StatusCode::BAD_REQUEST);

    // The passkey login step without a password step first: expired, nothing asked.
    let page = browser
        .get(&format!("/login/passkey?tx={}&lang=en", form.tx))
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);

    let script = browser.get("/assets/passkey.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("navigator.credentials.create")
    );
}

/// Owned form fields as the pairs `Browser::post` takes.
fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A fresh browser on the enrolment form of a new relying party's login.
async fn enrolment_form(app: &TestApp, tax_code: &str) -> (Browser, PageForm) {
    let org = platform(app, tax_code, "Dịch Vụ Khóa").await;
    let rp = client(
        app,
        org,
        "rp-passkey-refusals",
        "https://khoa.example.vn/cb",
        "openid verified",
        "EdDSA",
        None,
        1,
    )
    .await;
    let mut browser = Browser::new(app);
    let login = login_page_for(&mut browser, &rp, "openid verified").await;
    let tx = query_param(&login, "tx").unwrap();
    let form = PageForm::of(&mut browser, &format!("/enrol?tx={tx}&lang=en")).await;
    (browser, form)
}

/// Posts the enrolment form with a person's right details and this second factor.
async fn enrol_with(
    browser: &mut Browser,
    form: &PageForm,
    person: &dinhdanh_synth::SyntheticPerson,
    second_factor: &str,
) -> reqwest::Response {
    let birth = person.birth_date.to_string();
    form.post(
        browser,
        "/enrol",
        &[
            ("citizen_number", person.citizen_number.as_str()),
            ("name", person.name.as_str()),
            ("birth_date", &birth),
            ("password", ENROL_PASSWORD),
            ("password_again", ENROL_PASSWORD),
            ("second_factor", second_factor),
        ],
    )
    .await
}

/// Registers the first active person of the synthetic population whose age is in `ages`.
async fn registered_aged(
    app: &TestApp,
    ages: std::ops::Range<u16>,
) -> dinhdanh_synth::SyntheticPerson {
    let today = jiff::Timestamp::now();
    let person = synthetic_people(400)
        .into_iter()
        .find(|p| {
            p.status == PersonStatus::Active
                && AgeBracket::age_at(&p.birth_date, today).is_some_and(|age| ages.contains(&age))
        })
        .unwrap();
    expect_json(
        app.post(&app.writer, "/v1/persons", &person_body(&person))
            .await,
        StatusCode::CREATED,
    )
    .await;
    person
}

/// Registers the `index`-th adult of the synthetic population, with no account.
async fn registered_adult(app: &TestApp, index: usize) -> dinhdanh_synth::SyntheticPerson {
    let today = jiff::Timestamp::now();
    let person = synthetic_people(400)
        .into_iter()
        .filter(|p| {
            p.status == PersonStatus::Active
                && AgeBracket::age_at(&p.birth_date, today).is_some_and(|age| age >= 18)
        })
        .nth(index)
        .unwrap();
    expect_json(
        app.post(&app.writer, "/v1/persons", &person_body(&person))
            .await,
        StatusCode::CREATED,
    )
    .await;
    person
}

/// The text of the page's error announcement, if any.
fn alert(page: &str) -> Option<String> {
    let start = page.find("role=\"alert\"")?;
    let text = &page[start..];
    let text = &text[text.find("<p>")? + 3..];
    Some(text[..text.find("</p>")?].to_owned())
}

/// The login page a relying party's authorization request leads to, in a fresh browser.
async fn login_page_for(browser: &mut Browser, rp: &TestClient, scope: &str) -> String {
    let start = location(&browser.get(&authorize_query(rp, scope, &[])).await);
    location(&browser.get(&start).await)
}

/// The transaction and CSRF token a form page carries.
struct PageForm {
    tx: String,
    csrf: String,
}

impl PageForm {
    async fn of(browser: &mut Browser, url: &str) -> Self {
        let page = browser.get(url).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        Self {
            tx: hidden(&page, "tx"),
            csrf: hidden(&page, "csrf"),
        }
    }

    /// Posts the form to `path` with these fields beside its own.
    async fn post(
        &self,
        browser: &mut Browser,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("tx", self.tx.as_str()),
            ("csrf", self.csrf.as_str()),
            ("lang", "en"),
        ];
        form.extend_from_slice(fields);
        browser.post(path, &form).await
    }
}

const ENROL_PASSWORD: &str = "một mật khẩu đủ dài";

async fn enrol(
    browser: &mut Browser,
    form: &PageForm,
    number: &str,
    name: &str,
    birth: &str,
) -> reqwest::Response {
    form.post(
        browser,
        "/enrol",
        &[
            ("citizen_number", number),
            ("name", name),
            ("birth_date", birth),
            ("password", ENROL_PASSWORD),
            ("password_again", ENROL_PASSWORD),
        ],
    )
    .await
}

async fn has_account(app: &TestApp, person: &dinhdanh_synth::SyntheticPerson) -> bool {
    let id = find_id(app, person).await;
    app.store().oidc().find_account(id).await.unwrap().is_some()
}

#[tokio::test]
async fn enrolment_matches_the_registry_and_refuses_alike_whatever_the_reason() {
    let app = oidc_app().await;
    let person = registered_adult(&app, 10).await;
    let org = platform(&app, "0100000010", "Dịch Vụ Mười").await;
    let rp = client(
        &app,
        org,
        "rp-ten",
        "https://ten.example.vn/cb",
        "openid verified",
        "EdDSA",
        None,
        1,
    )
    .await;
    let mut browser = Browser::new(&app);
    let login = login_page_for(&mut browser, &rp, "openid verified").await;
    let tx = query_param(&login, "tx").unwrap();
    let form = PageForm::of(&mut browser, &format!("/enrol?tx={tx}&lang=en")).await;
    let (number, name, birth) = (
        person.citizen_number.as_str(),
        person.name.as_str(),
        person.birth_date.to_string(),
    );

    // A wrong birth date is refused, with the same words as a number nobody holds.
    let other_day = (person.birth_date.date() + jiff::ToSpan::days(1)).to_string();
    let wrong_date = enrol(&mut browser, &form, number, name, &other_day).await;
    assert_eq!(wrong_date.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong_date = alert(&wrong_date.text().await.unwrap()).unwrap();
    let other = synthetic_people(400).into_iter().last().unwrap();
    let unknown = enrol(
        &mut browser,
        &form,
        other.citizen_number.as_str(),
        other.name.as_str(),
        &other.birth_date.to_string(),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alert(&unknown.text().await.unwrap()).unwrap(), wrong_date);
    assert!(!has_account(&app, &person).await);

    // The right details, with the name in other case and spacing: enrolled, the secret shown.
    let spaced = format!("  {}  ", name.to_uppercase());
    let enrolled = enrol(&mut browser, &form, number, &spaced, &birth).await;
    assert_eq!(enrolled.status(), StatusCode::CREATED);
    let page = enrolled.text().await.unwrap();
    let secret = page
        .split("data-secret=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    // The secret shown is the one stored, sealed, with the account.
    let account = app
        .store()
        .oidc()
        .find_account(find_id(&app, &person).await)
        .await
        .unwrap()
        .unwrap();
    let stored = TotpSecret::from_bytes(account.totp_secret.unwrap()).unwrap();
    assert_eq!(stored.base32().unwrap(), secret);
    // Enrolling again is refused with the same words.
    let again = enrol(&mut browser, &form, number, &spaced, &birth).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alert(&again.text().await.unwrap()).unwrap(), wrong_date);

    // Guessing a birth date: after five wrong ones, even the right one is refused for now.
    let target = registered_adult(&app, 12).await;
    let (number, name) = (target.citizen_number.as_str(), target.name.as_str());
    for day in 1..=5 {
        let guess = (target.birth_date.date() + jiff::ToSpan::days(day)).to_string();
        let refused = enrol(&mut browser, &form, number, name, &guess).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let right = enrol(
        &mut browser,
        &form,
        number,
        name,
        &target.birth_date.to_string(),
    )
    .await;
    assert_eq!(right.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alert(&right.text().await.unwrap()).unwrap(), wrong_date);
    assert!(!has_account(&app, &target).await);
}

async fn find_id(app: &TestApp, person: &dinhdanh_synth::SyntheticPerson) -> PersonId {
    app.store()
        .find_person_by_citizen_number(&person.citizen_number)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn failed_logins_lock_the_account_without_telling_it_apart() {
    let app = oidc_app().await;
    let citizen = citizen(&app, 11, EidLevel::Level1).await;
    let org = platform(&app, "0100000011", "Dịch Vụ Mười Một").await;
    let rp = client(
        &app,
        org,
        "rp-eleven",
        "https://eleven.example.vn/cb",
        "openid verified",
        "EdDSA",
        None,
        1,
    )
    .await;
    let mut browser = Browser::new(&app);
    let login = login_page_for(&mut browser, &rp, "openid verified").await;
    let form = PageForm::of(&mut browser, &login).await;
    let unknown = synthetic_people(400)
        .into_iter()
        .last()
        .unwrap()
        .citizen_number
        .as_str()
        .to_owned();
    let nobody = form
        .post(
            &mut browser,
            "/login",
            &[
                ("citizen_number", &unknown),
                ("password", "wrong password here"),
            ],
        )
        .await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    let nobody = alert(&nobody.text().await.unwrap()).unwrap();
    for _ in 0..5 {
        let wrong = form
            .post(
                &mut browser,
                "/login",
                &[
                    ("citizen_number", &citizen.number),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(alert(&wrong.text().await.unwrap()).unwrap(), nobody);
    }
    let account = app
        .store()
        .oidc()
        .find_account(citizen.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        account
            .locked_until
            .is_some_and(|until| until > jiff::Timestamp::now())
    );
    // Locked: even the right password gets the same answer, and no second-factor step.
    let right = form
        .post(
            &mut browser,
            "/login",
            &[("citizen_number", &citizen.number), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status(), StatusCode::UNAUTHORIZED);
    assert!(right.headers().get(LOCATION).is_none());
    assert_eq!(alert(&right.text().await.unwrap()).unwrap(), nobody);
}

#[tokio::test]
async fn oauth_endpoints_refuse_malformed_requests_in_oauth_form() {
    let app = oidc_app().await;
    let org = platform(&app, "0100000013", "Dịch Vụ Mười Ba").await;
    let rp = client(
        &app,
        org,
        "rp-thirteen",
        "https://thirteen.example.vn/cb",
        "openid",
        "EdDSA",
        None,
        1,
    )
    .await;
    let Credentials::Secret(secret) = &rp.credentials else {
        unreachable!("registered with a secret")
    };
    let post = |path: &str| {
        app.client
            .post(app.url(path))
            .basic_auth(&rp.id, Some(secret))
    };
    // Not a form; a repeated parameter; an unknown grant type; a missing code.
    let json = post("/token")
        .json(&json!({ "grant_type": "authorization_code" }))
        .send()
        .await
        .unwrap();
    oauth_error(json, StatusCode::BAD_REQUEST, "invalid_request").await;
    let repeated = post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    oauth_error(repeated, StatusCode::BAD_REQUEST, "invalid_request").await;
    let unknown = post("/token")
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    oauth_error(unknown, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let no_code = post("/token")
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    oauth_error(no_code, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Revocation needs the token; an unknown token is answered 200 and changes nothing.
    let no_token = post("/revoke")
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    oauth_error(no_token, StatusCode::BAD_REQUEST, "invalid_request").await;
    let unknown_token = post("/revoke")
        .form(&[("token", "nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_token.status(), StatusCode::OK);
    // PAR refuses a pushed request_uri and a bad request, and never echoes a secret.
    let pushed_uri = post("/par")
        .form(&[("request_uri", "urn:x"), ("response_type", "code")])
        .send()
        .await
        .unwrap();
    oauth_error(pushed_uri, StatusCode::BAD_REQUEST, "invalid_request").await;
    let plain = post("/par")
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", rp.redirect_uri.as_str()),
            ("scope", "openid"),
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ])
        .send()
        .await
        .unwrap();
    let body = oauth_error(plain, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(!body.to_string().contains(secret.as_str()));
    // Userinfo without a token or with an unknown one: 401 with a Bearer challenge.
    for request in [
        app.client.get(app.url("/userinfo")),
        app.client.get(app.url("/userinfo")).bearer_auth("nothing"),
    ] {
        let response = request.send().await.unwrap();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // A malformed authorization query is a page, not a redirect.
    let mut browser = Browser::new(&app);
    let page = browser.get("/authorize?client_id=a&client_id=b").await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
}

/// A Shared Signals receiver: an HTTP server that keeps every token pushed to it, and answers
/// 503 while it is `down`.
struct Receiver {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Receiver {
    /// Waits until `count` tokens have arrived, and returns all that have.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..300 {
            let received = self.received.lock().unwrap().clone();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the receiver got fewer than {count} events");
    }
}

async fn receiver() -> Receiver {
    use std::sync::atomic::Ordering;
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (kept, refusing) = (received.clone(), down.clone());
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (kept, refusing) = (kept.clone(), refusing.clone());
            async move {
                if refusing.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                // RFC 8935 §2.1.
                assert_eq!(headers["content-type"], "application/secevent+jwt");
                assert_eq!(headers["authorization"], "Bearer receiver-secret");
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url,
        received,
        down,
    }
}

/// The claims of each token, verified against the provider's JWKS, with the header's `typ`.
async fn verified_events(app: &TestApp, tokens: &[String]) -> Vec<Value> {
    let mut events = Vec::new();
    for token in tokens {
        let header: Value =
            serde_json::from_slice(&base64_decode(token.split('.').next().unwrap())).unwrap();
        assert_eq!(header["typ"], "secevent+jwt", "RFC 8417 §2.3");
        assert_eq!(header["alg"], "ML-DSA-65", "the receiver's algorithm");
        events.push(verified_id_token(app, token).await);
    }
    events
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The client's own access token, from the client credentials grant.
async fn service_token(app: &TestApp, rp: &TestClient) -> String {
    expect_json(
        token_request(app, rp, &[("grant_type", "client_credentials")]).await,
        StatusCode::OK,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What a login at a platform gave, and the binding the platform then made.
struct SignedIn {
    code: String,
    tokens: Value,
    sub: String,
    binding: Value,
}

/// Logs `citizen` in at `rp` in `browser`, exchanges the code, and binds an account of
/// theirs (handle `@` and the client's id) on the platform.
async fn sign_in_and_bind(
    app: &TestApp,
    browser: &mut Browser,
    rp: &TestClient,
    scope: &str,
    citizen: &Citizen,
    access: &str,
) -> SignedIn {
    let callback = authorize(browser, &authorize_query(rp, scope, &[]), citizen).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(app, rp, &code).await, StatusCode::OK).await;
    let sub = verified_id_token(app, tokens["id_token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let binding = expect_json(
        app.client
            .post(app.url("/v1/bindings"))
            .bearer_auth(access)
            .json(&json!({ "sub": sub, "handle": format!("@{}", rp.id) }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    SignedIn {
        code,
        tokens,
        sub,
        binding,
    }
}

/// The `n`-th test platform with a client for `scope` (EdDSA ID tokens, a client secret),
/// its service access token, and the path of a poll stream it made for every event type.
async fn polling_platform(app: &TestApp, n: usize, scope: &str) -> (TestClient, String, String) {
    let org = platform(app, &format!("01000000{n:02}"), &format!("Mạng Xã Hội {n}")).await;
    let rp = client(
        app,
        org,
        &format!("rp-social-{n}"),
        &format!("https://social{n}.example.vn/cb"),
        scope,
        "EdDSA",
        None,
        1,
    )
    .await;
    let access = service_token(app, &rp).await;
    let stream = expect_json(
        app.client
            .post(app.url("/ssf/streams"))
            .bearer_auth(&access)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let poll_path = format!("/ssf/poll/{}", stream["stream_id"].as_str().unwrap());
    (rp, access, poll_path)
}

/// Polls a stream (RFC 8936) until events come, acknowledges them, and returns them
/// verified against the JWKS.
async fn poll_events(app: &TestApp, access: &str, path: &str) -> Vec<Value> {
    let poll = async |body: Value| {
        expect_json(
            app.client
                .post(app.url(path))
                .bearer_auth(access)
                .json(&body)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    };
    for _ in 0..200 {
        let answer = poll(json!({"returnImmediately": true})).await;
        let sets = answer["sets"].as_object().unwrap();
        if !sets.is_empty() {
            let mut events = Vec::new();
            for set in sets.values() {
                let token = set.as_str().unwrap();
                let header: Value =
                    serde_json::from_slice(&base64_decode(token.split('.').next().unwrap()))
                        .unwrap();
                assert_eq!(header["typ"], "secevent+jwt", "RFC 8417 §2.3");
                events.push(verified_id_token(app, token).await);
            }
            let acks: Vec<&String> = sets.keys().collect();
            poll(json!({"ack": acks, "maxEvents": 0, "returnImmediately": true})).await;
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no event came to {path}");
}

fn of_type<'a>(events: &'a [Value], uri: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["events"].get(uri).is_some())
        .collect()
}

#[tokio::test]
async fn platforms_hear_of_deaths_and_guardians_by_push_and_poll_exactly_once() {
    const DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    const VERIFY: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
    const GUARDIAN: &str = "urn:dinhdanh:secevent:event-type:guardian-consent-revoked";
    let mut app = oidc_app().await;
    let configuration = expect_json(
        app.client
            .get(app.url("/.well-known/ssf-configuration"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(configuration["issuer"], app.base_url);
    assert_eq!(
        configuration["configuration_endpoint"],
        format!("{}/ssf/streams", app.base_url)
    );

    let adult = citizen(&app, 30, EidLevel::Level1).await;
    let org = platform(&app, "0100000030", "Mạng Xã Hội Ba Mươi").await;
    let scope = "openid verified";
    let rp = client(
        &app,
        org,
        "rp-social-30",
        "https://social30.example.vn/cb",
        scope,
        "ML-DSA-65",
        None,
        1,
    )
    .await;
    let access = service_token(&app, &rp).await;
    let (http, base) = (app.client.clone(), app.base_url.clone());
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(&access)
    };
    let mut browser = Browser::new(&app);
    let callback = authorize(&mut browser, &authorize_query(&rp, scope, &[]), &adult).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let sub = verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_json(
        call(reqwest::Method::POST, "/v1/bindings")
            .json(&json!({ "sub": sub, "handle": "@ba.muoi" }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;

    // Streams: one pushed to the receiver, one polled. Bad configurations change nothing.
    let receiver = receiver().await;
    for bad in [
        json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "http://rp.example/e"}}),
        json!({"delivery": {"method": "urn:example:carrier-pigeon"}}),
        json!({"stream_id": "mine"}),
        json!({"events_requested": "all"}),
    ] {
        let refused = call(reqwest::Method::POST, "/ssf/streams")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        expect_json(
            call(reqwest::Method::GET, "/ssf/streams")
                .send()
                .await
                .unwrap(),
            StatusCode::OK
        )
        .await,
        json!([])
    );
    let pushed = expect_json(
        call(reqwest::Method::POST, "/ssf/streams")
            .json(&json!({
                "delivery": {
                    "method": "urn:ietf:rfc:8935",
                    "endpoint_url": receiver.url,
                    "authorization_header": "Bearer receiver-secret",
                },
                "events_requested": [DISABLED, GUARDIAN],
                "description": "the platform's push receiver",
            }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let pushed_id = pushed["stream_id"].as_str().unwrap().to_owned();
    assert_eq!(pushed["aud"], "rp-social-30");
    assert_eq!(pushed["events_delivered"], json!([DISABLED, GUARDIAN]));
    assert!(pushed["delivery"].get("authorization_header").is_none());
    let polled = expect_json(
        call(reqwest::Method::POST, "/ssf/streams")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let polled_id = polled["stream_id"].as_str().unwrap().to_owned();
    let poll_url = polled["delivery"]["endpoint_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(poll_url, format!("{}/ssf/poll/{polled_id}", app.base_url));

    // Verification reaches the pushed stream, echoing the state.
    let verified = call(reqwest::Method::POST, "/ssf/verify")
        .json(&json!({"stream_id": pushed_id, "state": "tự-kiểm-tra"}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), StatusCode::NO_CONTENT);
    receiver.wait_for(1).await;
    let received = receiver.received.lock().unwrap().clone();
    let first = verified_events(&app, &received).await;
    assert_eq!(first[0]["events"][VERIFY]["state"], "tự-kiểm-tra");
    assert_eq!(
        first[0]["sub_id"],
        json!({"format": "opaque", "id": pushed_id})
    );

    // A second platform, in another sector, where the same person holds an account too.
    let (other_rp, other_access, other_poll) = polling_platform(&app, 31, scope).await;
    let other = sign_in_and_bind(&app, &mut browser, &other_rp, scope, &adult, &other_access).await;
    assert_ne!(other.sub, sub, "pairwise per sector");

    // The receiver goes down; the person dies; the transmitter is killed and restarted while
    // the receiver is still down. Once it is back, it gets the event once.
    receiver
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    expect_json(
        app.patch(
            &app.writer,
            &format!("/v1/persons/{}", adult.id),
            &json!({"status": "deceased"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.stop_transmitter();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    app.start_transmitter();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    receiver
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    receiver.wait_for(2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let received = receiver.received.lock().unwrap().clone();
    let all = verified_events(&app, &received).await;
    let disabled = of_type(&all, DISABLED);
    assert_eq!(disabled.len(), 1, "exactly once: {all:?}");
    assert_eq!(
        disabled[0]["sub_id"],
        json!({"format": "iss_sub", "iss": app.base_url, "sub": sub})
    );
    assert_eq!(disabled[0]["aud"], "rp-social-30");
    assert!(disabled[0].get("sub").is_none() && disabled[0].get("exp").is_none());
    // Every platform that holds a binding of the person hears of it, under its own `sub`.
    let elsewhere = poll_events(&app, &other_access, &other_poll).await;
    let disabled_elsewhere = of_type(&elsewhere, DISABLED);
    assert_eq!(disabled_elsewhere.len(), 1, "{elsewhere:?}");
    assert_eq!(disabled_elsewhere[0]["sub_id"]["sub"], other.sub.as_str());
    assert_eq!(disabled_elsewhere[0]["aud"], "rp-social-31");

    // The polled stream holds it until acknowledged (RFC 8936).
    let poll = async |body: Value| {
        expect_json(
            call(reqwest::Method::POST, &format!("/ssf/poll/{polled_id}"))
                .json(&body)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    };
    let answer = poll(json!({"returnImmediately": true})).await;
    let sets: Vec<(String, String)> = answer["sets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(jti, set)| (jti.clone(), set.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(sets.len(), 1, "{answer}");
    let event = &verified_events(&app, &[sets[0].1.clone()]).await[0];
    assert_eq!(event["jti"], sets[0].0);
    assert!(event["events"].get(DISABLED).is_some());
    // Not acknowledged: it comes again, under the same jti.
    let again = poll(json!({})).await;
    assert!(again["sets"].get(&sets[0].0).is_some(), "{again}");
    let acked = poll(json!({"ack": [sets[0].0], "returnImmediately": true})).await;
    assert_eq!(acked["sets"], json!({}));
    assert_eq!(acked["moreAvailable"], false);
    let refused = call(reqwest::Method::POST, &format!("/ssf/poll/{polled_id}"))
        .json(&json!({"maxEvents": "many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // A pushed stream is not polled, and another client's stream is not found.
    let not_polled = call(reqwest::Method::POST, &format!("/ssf/poll/{pushed_id}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_polled.status(), StatusCode::BAD_REQUEST);

    // Status and deletion.
    let paused = expect_json(
        call(reqwest::Method::POST, "/ssf/status")
            .json(&json!({"stream_id": polled_id, "status": "paused", "reason": "upkeep"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(paused["status"], "paused");
    let deleted = call(
        reqwest::Method::DELETE,
        &format!("/ssf/streams?stream_id={polled_id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = call(
        reqwest::Method::GET,
        &format!("/ssf/streams?stream_id={polled_id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // Without the token, nothing.
    let anonymous = app
        .client
        .get(app.url("/ssf/streams"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// The `type` URI of a CAEP event.
fn caep(name: &str) -> String {
    format!("https://schemas.openid.net/secevent/caep/event-type/{name}")
}

#[tokio::test]
async fn a_person_changes_their_password_and_signs_out_everywhere_and_platforms_hear() {
    let app = oidc_app().await;
    let person = citizen(&app, 21, EidLevel::Level1).await;
    let scope = "openid verified";
    let (rp, access, poll_path) = polling_platform(&app, 21, scope).await;
    let mut browser = Browser::new(&app);
    let SignedIn {
        code, tokens, sub, ..
    } = sign_in_and_bind(&app, &mut browser, &rp, scope, &person, &access).await;
    let userinfo = async |token: &str| {
        app.client
            .get(app.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };

    // A replayed code revokes its grant, and the platform hears its session ended by policy.
    oauth_error(
        exchange(&app, &rp, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        userinfo(tokens["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    let events = poll_events(&app, &access, &poll_path).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let revoked = &events[0]["events"][caep("session-revoked")];
    assert_eq!(revoked["initiating_entity"], "policy", "{events:?}");
    assert_eq!(events[0]["sub_id"]["sub"], sub.as_str());

    // The password form on /me: refused without its CSRF token, for a wrong current
    // password, and for a weak or mistyped new one, changing nothing; then changed.
    let page = browser.get("/me?lang=en").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"password-form\""), "{page}");
    let new_password = "một mật khẩu mới đủ dài";
    let change = async |browser: &mut Browser, fields: &[(&str, &str)], csrf: bool| {
        let mut form = vec![("tx", "me"), ("lang", "en")];
        let token = hidden(&page, "csrf");
        if csrf {
            form.push(("csrf", token.as_str()));
        }
        form.extend_from_slice(fields);
        browser.post("/me/password", &form).await
    };
    let good = [
        ("current_password", PASSWORD),
        ("password", new_password),
        ("password_again", new_password),
    ];
    assert_eq!(
        change(&mut browser, &good, false).await.status(),
        StatusCode::FORBIDDEN
    );
    let wrong = change(
        &mut browser,
        &[
            ("current_password", "không phải mật khẩu"),
            ("password", new_password),
            ("password_again", new_password),
        ],
        true,
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The current password is wrong")
    );
    for (password, again) in [("ngắn", "ngắn"), (new_password, "một mật khẩu khác hẳn")]
    {
        let refused = change(
            &mut browser,
            &[
                ("current_password", PASSWORD),
                ("password", password),
                ("password_again", again),
            ],
            true,
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let changed = change(&mut browser, &good, true).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(
        changed
            .text()
            .await
            .unwrap()
            .contains("Your password has been changed.")
    );
    let events = poll_events(&app, &access, &poll_path).await;
    assert_eq!(events.len(), 1, "only the change is told: {events:?}");
    let credential = &events[0]["events"][caep("credential-change")];
    assert_eq!(credential["credential_type"], "password", "{events:?}");
    assert_eq!(credential["change_type"], "update", "{events:?}");
    // The old password no longer logs in; the new one does (up to the second factor).
    let mut other = Browser::new(&app);
    let form = PageForm::of(&mut other, "/login?tx=me&lang=en").await;
    for (password, status) in [
        (PASSWORD, StatusCode::UNAUTHORIZED),
        (new_password, StatusCode::SEE_OTHER),
    ] {
        let answer = form
            .post(
                &mut other,
                "/login",
                &[
                    ("citizen_number", person.number.as_str()),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(answer.status(), status);
    }

    // A new grant, from the session still open; then "sign out everywhere" ends the session
    // and the grant, and the platform hears of it.
    let callback = authorize(&mut browser, &authorize_query(&rp, scope, &[]), &person).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&token).await, StatusCode::OK);
    let page = browser.get("/me?lang=en").await.text().await.unwrap();
    let signed_out = browser
        .post(
            "/me/sessions",
            &[
                ("tx", "me"),
                ("lang", "en"),
                ("csrf", hidden(&page, "csrf").as_str()),
            ],
        )
        .await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    assert!(
        browser
            .cookies
            .keys()
            .all(|name| name != "__Host-dd-session"),
        "the session cookie is deleted"
    );
    assert_eq!(userinfo(&token).await, StatusCode::UNAUTHORIZED);
    let login = location(&browser.get("/me?lang=en").await);
    assert!(login.starts_with("/login?tx=me"), "{login}");
    let events = poll_events(&app, &access, &poll_path).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let revoked = &events[0]["events"][caep("session-revoked")];
    assert_eq!(revoked["initiating_entity"], "user", "{events:?}");
}

#[tokio::test]
async fn a_receiver_changes_pauses_and_resumes_its_stream_and_bad_requests_change_nothing() {
    const ENABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-enabled";
    let app = oidc_app().await;
    let person = citizen(&app, 22, EidLevel::Level1).await;
    let scope = "openid verified";
    let (rp, access, poll_path) = polling_platform(&app, 22, scope).await;
    let stream_id = poll_path.trim_start_matches("/ssf/poll/").to_owned();
    let mut browser = Browser::new(&app);
    let SignedIn { sub, .. } =
        sign_in_and_bind(&app, &mut browser, &rp, scope, &person, &access).await;
    let send = async |method: reqwest::Method, path: &str, body: Value| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&access)
            .json(&body)
            .send()
            .await
            .unwrap()
    };

    // PATCH narrows the events to two types.
    let assurance = caep("assurance-level-change");
    let changed = expect_json(
        send(
            reqwest::Method::PATCH,
            "/ssf/streams",
            json!({"stream_id": stream_id, "events_requested": [ENABLED, assurance]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["events_delivered"], json!([ENABLED, assurance]));

    // Bad requests are refused with a problem, and change nothing.
    for (method, path, body, status) in [
        (
            reqwest::Method::POST,
            "/ssf/status",
            json!({"stream_id": stream_id, "status": "sleeping"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::POST,
            "/ssf/status",
            json!({"stream_id": stream_id, "status": "paused", "until": "later"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::POST,
            "/ssf/status",
            json!({"stream_id": "no-such-stream", "status": "paused"}),
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::POST,
            "/ssf/subjects/add",
            json!({"stream_id": stream_id, "subject": {"format": "email", "email": "x@example.vn"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::POST,
            "/ssf/verify",
            json!({"stream_id": 5}),
            StatusCode::BAD_REQUEST,
        ),
        (
            reqwest::Method::PATCH,
            "/ssf/streams",
            json!({"stream_id": stream_id, "events_requested": "all"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let refused = send(method, path, body.clone()).await;
        assert_eq!(refused.status(), status, "{path} {body}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json",
            "{path} {body}"
        );
    }
    let status = expect_json(
        app.client
            .get(app.url(&format!("/ssf/status?stream_id={stream_id}")))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["status"], "enabled");
    let now = expect_json(
        app.client
            .get(app.url(&format!("/ssf/streams?stream_id={stream_id}")))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["events_delivered"], json!([ENABLED, assurance]));

    // Paused, the stream holds what happens: a suspension (not asked for), a reinstatement
    // and a move to level 2.
    expect_json(
        send(
            reqwest::Method::POST,
            "/ssf/status",
            json!({"stream_id": stream_id, "status": "paused", "reason": "upkeep"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for change in [
        json!({"status": "suspended"}),
        json!({"status": "active"}),
        json!({"eid_level": 2}),
    ] {
        expect_json(
            app.patch(&app.writer, &format!("/v1/persons/{}", person.id), &change)
                .await,
            StatusCode::OK,
        )
        .await;
    }
    // Every signal fanned out, and still nothing to poll.
    for _ in 0..200 {
        if app
            .store()
            .signals()
            .list_signals(10)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        app.store()
            .signals()
            .list_signals(10)
            .await
            .unwrap()
            .is_empty()
    );
    let held = expect_json(
        send(
            reqwest::Method::POST,
            &poll_path,
            json!({"returnImmediately": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(held["sets"], json!({}), "a paused stream holds its events");

    // Enabled again, it releases them, each once.
    expect_json(
        send(
            reqwest::Method::POST,
            "/ssf/status",
            json!({"stream_id": stream_id, "status": "enabled"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let events = poll_events(&app, &access, &poll_path).await;
    let about_person: Vec<&Value> = events
        .iter()
        .filter(|event| event["sub_id"]["sub"] == sub.as_str())
        .collect();
    assert_eq!(of_type(&events, ENABLED).len(), 1, "{events:?}");
    let raised = of_type(&events, &assurance);
    assert_eq!(raised.len(), 1, "{events:?}");
    assert_eq!(
        about_person.len(),
        2,
        "nothing about the suspension: {events:?}"
    );
    let raised = &raised[0]["events"][&assurance];
    // Registered without a level of its own (the account gives level 1 at login): "none".
    assert_eq!(raised["previous_level"], "none");
    assert_eq!(raised["current_level"], Acr::LEVEL_2);
    assert_eq!(raised["change_direction"], "increase");
}

/// The `n`-th test telecom operator, with a client that authenticates by `private_key_jwt`
/// with an ML-DSA-65 key, and that client's service access token.
async fn operator(app: &TestApp, n: usize) -> (TestClient, OrganisationId, String) {
    let created = app
        .create_organisation(&json!({
            "tax_code": format!("02000000{n:02}"),
            "name": format!("Nhà Mạng {n}"),
            "kind": "telecom_operator",
        }))
        .await;
    let organisation: OrganisationId = created["id"].as_str().unwrap().parse().unwrap();
    let rp = client(
        app,
        organisation,
        &format!("operator-{n}"),
        &format!("https://operator{n}.example.vn/cb"),
        "openid verified",
        "ML-DSA-65",
        Some(SignatureAlgorithm::MlDsa65),
        1,
    )
    .await;
    let access = service_token(app, &rp).await;
    (rp, organisation, access)
}

/// An operator's declared holder for a synthetic person.
fn declared(person: &dinhdanh_synth::SyntheticPerson) -> Value {
    json!({
        "citizen_number": person.citizen_number.as_str(),
        "name": person.name.as_str(),
        "birth_date": person.birth_date.to_string(),
    })
}

/// A registration body: the number, the holder and a face check done a minute ago.
fn line_body(msisdn: &str, holder: Value) -> Value {
    let checked = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    json!({
        "msisdn": msisdn,
        "holder": holder,
        "activated_on": "2026-01-05",
        "face_check": { "method": "thiết bị đối chiếu khuôn mặt", "checked_at": checked.to_string() },
    })
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.client.request(method, app.url(path)).bearer_auth(token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn operators_check_and_register_lines_with_every_reason_and_change_nothing_when_refused() {
    use reqwest::Method;
    let app = oidc_app().await;
    let (_, operator_id, access) = operator(&app, 1).await;
    let (_, _, other_access) = operator(&app, 2).await;
    let holder = registered_adult(&app, 30).await;
    let someone = registered_adult(&app, 31).await;
    let holder_id = find_id(&app, &holder).await;
    let post = async |token: &str, path: &str, body: Value| {
        send(&app, Method::POST, token, path, Some(body)).await
    };
    let lines = async || {
        app.store()
            .subscriptions()
            .list_subscriptions_of(holder_id)
            .await
            .unwrap()
    };

    // The online check: verified, or every reason in order, each explained.
    let check = expect_json(
        post(
            &access,
            "/v1/subscriber-checks",
            line_body("0961234501", declared(&holder)),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(check["result"], "verified", "{check}");
    let mut wrong = declared(&holder);
    wrong["name"] = json!("Người Khác Hẳn");
    wrong["birth_date"] = json!("1950-01-01");
    let response = post(
        &access,
        "/v1/subscriber-checks",
        line_body("0961234501", wrong.clone()),
    )
    .await;
    assert!(response.headers().contains_key("dinhdanh-disclosure"));
    let check = expect_json(response, StatusCode::OK).await;
    assert_eq!(check["result"], "rejected");
    let codes: Vec<&str> = check["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["name_mismatch", "birth_date_mismatch"]);
    assert!(
        check["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("name")
    );
    // Names match without regard to case and diacritics.
    let mut plain = declared(&holder);
    plain["name"] = json!(holder.name.folded().to_uppercase());
    let check = expect_json(
        post(
            &access,
            "/v1/subscriber-checks",
            line_body("0961234501", plain),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(check["result"], "verified", "{check}");
    assert!(lines().await.is_empty(), "a check registers nothing");

    // Registration: verified and recorded, pending its face check when none is attested.
    let response = post(
        &access,
        "/v1/subscriptions",
        line_body("0961234501", declared(&holder)),
    )
    .await;
    assert!(response.headers().contains_key("dinhdanh-disclosure"));
    let first = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(first["status"], "active", "{first}");
    assert_eq!(first["msisdn"], "+84961234501");
    assert!(
        first.get("name").is_none() && !first.to_string().contains(holder.citizen_number.as_str())
    );
    let mut unattested = line_body("0961234502", declared(&holder));
    unattested.as_object_mut().unwrap().remove("face_check");
    let second = expect_json(
        post(&access, "/v1/subscriptions", unattested).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["status"], "pending_face_check");
    assert_eq!(second["line_status"], "active");
    // The same line again is a conflict; the number for someone else, anywhere, a reason.
    expect_problem(
        post(
            &access,
            "/v1/subscriptions",
            line_body("+84961234501", declared(&holder)),
        )
        .await,
        StatusCode::CONFLICT,
        "subscription-exists",
    )
    .await;
    let refused = expect_problem(
        post(
            &other_access,
            "/v1/subscriptions",
            line_body("0961234501", declared(&someone)),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "subscription-rejected",
    )
    .await;
    assert_eq!(
        refused["reasons"][0]["code"], "msisdn_held_by_another",
        "{refused}"
    );
    // The limit: 3 a person at an operator, unless the contract says more.
    expect_json(
        post(
            &access,
            "/v1/subscriptions",
            line_body("0961234503", declared(&holder)),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let before = lines().await;
    let mut wrong = declared(&holder);
    wrong["name"] = json!("Người Khác Hẳn");
    let refused = expect_problem(
        post(&access, "/v1/subscriptions", line_body("0961234504", wrong)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "subscription-rejected",
    )
    .await;
    let codes: Vec<&str> = refused["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reason| reason["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["name_mismatch", "over_operator_limit"]);
    assert_eq!(lines().await, before, "a refusal writes nothing");
    let mut contract = line_body("0961234504", declared(&holder));
    contract["contract"] = json!(true);
    expect_json(
        post(&access, "/v1/subscriptions", contract).await,
        StatusCode::CREATED,
    )
    .await;
    // At another operator the count starts again.
    expect_json(
        post(
            &other_access,
            "/v1/subscriptions",
            line_body("0911234505", declared(&holder)),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Unknown holders: a citizen number or a tax code nobody has.
    let mut unknown = declared(&holder);
    unknown["citizen_number"] = json!("001099012345");
    unknown["birth_date"] = json!("1999-03-04");
    let refused = expect_problem(
        post(
            &access,
            "/v1/subscriptions",
            line_body("0961234506", unknown),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "subscription-rejected",
    )
    .await;
    assert_eq!(refused["reasons"][0]["code"], "unknown_citizen_number");
    let refused = expect_problem(
        post(
            &access,
            "/v1/subscriptions",
            line_body("0961234506", json!({"tax_code": "0999999999"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "subscription-rejected",
    )
    .await;
    assert_eq!(refused["reasons"][0]["code"], "unknown_tax_code");
    // An organisation holds a line by its tax code.
    let company = expect_json(
        post(
            &access,
            "/v1/subscriptions",
            line_body("0961234507", json!({"tax_code": "0200000002"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(company["holder"], "organisation");

    // Malformed requests: a clear 4xx and nothing written.
    let before = lines().await;
    for (body, status, slug) in [
        (
            line_body("12345", declared(&holder)),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            line_body("0961234508", json!({"tax_code": "0200000002", "name": "A"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid-field"),
        ),
        (
            line_body(
                "0961234508",
                json!({"citizen_number": holder.citizen_number.as_str()}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid-field"),
        ),
        (
            json!({"msisdn": "0961234508", "holder": declared(&holder), "activated_on": "2099-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid-field"),
        ),
        (
            json!({"msisdn": "0961234508", "holder": declared(&holder), "activated_on": "2026-01-01", "extra": 1}),
            StatusCode::BAD_REQUEST,
            Some("malformed-body"),
        ),
        (
            {
                let mut body = line_body("0961234508", declared(&holder));
                body["face_check"]["checked_at"] = json!("2099-01-01T00:00:00Z");
                body
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid-field"),
        ),
    ] {
        let response = post(&access, "/v1/subscriptions", body).await;
        match slug {
            Some(slug) => {
                expect_problem(response, status, slug).await;
            }
            None => assert_eq!(response.status(), status),
        }
    }
    assert_eq!(lines().await, before);

    // Who may call: the `subscribers` scope, held only by operators' clients.
    let (_, platform_access, _) = polling_platform(&app, 31, "openid verified").await;
    expect_problem(
        post(
            &platform_access,
            "/v1/subscriptions",
            line_body("0961234509", declared(&holder)),
        )
        .await,
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    let id = first["id"].as_str().unwrap();
    assert_eq!(
        send(
            &app,
            Method::GET,
            &other_access,
            &format!("/v1/subscriptions/{id}"),
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND,
        "another operator's line"
    );

    // Every answer about the person is in their disclosure log, for the operator.
    dinhdanh_server::publish_log(app.store().disclosure_log().as_ref(), 10_000)
        .await
        .unwrap();
    let log = expect_json(
        app.get(&app.reader, &format!("/v1/persons/{holder_id}/disclosures"))
            .await,
        StatusCode::OK,
    )
    .await;
    let told = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["disclosed"].to_string().contains("subscriber_check")
                && entry["recipient"]
                    .to_string()
                    .contains(&operator_id.to_string())
        })
        .count();
    // Three checks, five registrations (the one refused included) at this operator.
    assert_eq!(told, 3 + 5, "{log}");
}

#[tokio::test]
async fn a_line_goes_through_the_device_change_timeline_and_its_operator_hears_each_step() {
    use reqwest::Method;
    let app = oidc_app().await;
    let (_, _, access) = operator(&app, 3).await;
    let stream = expect_json(
        send(&app, Method::POST, &access, "/ssf/streams", Some(json!({}))).await,
        StatusCode::CREATED,
    )
    .await;
    let poll_path = format!("/ssf/poll/{}", stream["stream_id"].as_str().unwrap());
    let holder = registered_adult(&app, 33).await;
    let line = expect_json(
        send(
            &app,
            Method::POST,
            &access,
            "/v1/subscriptions",
            Some(line_body("0971234501", declared(&holder))),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = line["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/v1/subscriptions/{id}{tail}");
    let state = app.state();
    let day = |n: i64| jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * n);
    let status = async || {
        expect_json(
            send(&app, Method::GET, &access, &path(""), None).await,
            StatusCode::OK,
        )
        .await["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let change = async || {
        expect_json(
            send(
                &app,
                Method::POST,
                &access,
                &path("/device-changes"),
                Some(json!({})),
            )
            .await,
            StatusCode::OK,
        )
        .await
    };
    let verify = async || {
        send(
            &app,
            Method::POST,
            &access,
            &path("/verifications"),
            Some(json!({"method": "đối chiếu tại cửa hàng", "checked_at": jiff::Timestamp::now().to_string()})),
        )
        .await
    };

    // A change dated before the line existed, and an attestation older than the change it
    // should answer, are refused and change nothing.
    expect_problem(
        send(
            &app,
            Method::POST,
            &access,
            &path("/device-changes"),
            Some(json!({"changed_at": "2001-01-01T00:00:00Z"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    assert_eq!(status().await, "active");
    // Suspended at once; re-verified, active again.
    assert_eq!(change().await["status"], "outgoing_suspended");
    expect_problem(
        send(
            &app,
            Method::POST,
            &access,
            &path("/verifications"),
            Some(json!({"method": "cũ", "checked_at": "2026-01-01T00:00:00Z"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
    )
    .await;
    assert_eq!(status().await, "outgoing_suspended");
    assert_eq!(
        dinhdanh_server::apply_line_stages(&state, day(29))
            .await
            .unwrap(),
        0
    );
    expect_json(verify().await, StatusCode::OK).await;
    assert_eq!(status().await, "active");
    // Suspended again, blocked 30 days on, and re-verified while blocked.
    change().await;
    assert_eq!(
        dinhdanh_server::apply_line_stages(&state, day(30))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        dinhdanh_server::apply_line_stages(&state, day(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(status().await, "blocked");
    expect_json(verify().await, StatusCode::OK).await;
    assert_eq!(status().await, "active");
    // Left unverified: blocked after 30 days, terminated 5 days later, for good.
    change().await;
    assert_eq!(
        dinhdanh_server::apply_line_stages(&state, day(31))
            .await
            .unwrap(),
        1
    );
    assert_eq!(status().await, "blocked");
    assert_eq!(
        dinhdanh_server::apply_line_stages(&state, day(35))
            .await
            .unwrap(),
        1
    );
    assert_eq!(status().await, "terminated");
    expect_problem(
        verify().await,
        StatusCode::CONFLICT,
        "subscription-terminated",
    )
    .await;
    expect_problem(
        send(
            &app,
            Method::POST,
            &access,
            &path("/device-changes"),
            Some(json!({})),
        )
        .await,
        StatusCode::CONFLICT,
        "subscription-terminated",
    )
    .await;
    // Bad device changes change nothing.
    expect_problem(
        send(
            &app,
            Method::POST,
            &access,
            "/v1/subscriptions/not-a-uuid/device-changes",
            Some(json!({})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid-id",
    )
    .await;

    // The operator polls every transition, in order, and pages through them.
    let all = expect_json(
        send(
            &app,
            Method::GET,
            &access,
            "/v1/subscriptions/transitions",
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let steps: Vec<String> = all["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}>{}:{}",
                t["from"].as_str().unwrap(),
                t["to"].as_str().unwrap(),
                t["cause"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "active>outgoing_suspended:device_change",
            "outgoing_suspended>active:verified",
            "active>outgoing_suspended:device_change",
            "outgoing_suspended>blocked:elapsed",
            "blocked>active:verified",
            "active>outgoing_suspended:device_change",
            "outgoing_suspended>blocked:elapsed",
            "blocked>terminated:elapsed",
        ]
    );
    let third = all["transitions"][2]["seq"].as_i64().unwrap();
    let rest = expect_json(
        send(
            &app,
            Method::GET,
            &access,
            &format!("/v1/subscriptions/transitions?after={third}&limit=2"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["transitions"].as_array().unwrap().len(), 2);
    assert_eq!(rest["more"], true);
    for query in ["?limit=0", "?after=-1", "?after=x", "?limit=1001"] {
        let response = send(
            &app,
            Method::GET,
            &access,
            &format!("/v1/subscriptions/transitions{query}"),
            None,
        )
        .await;
        assert!(response.status().is_client_error(), "{query}");
    }

    // And hears each as a Shared Signals event about the number.
    let mut events = Vec::new();
    while events.len() < 8 {
        events.extend(poll_events(&app, &access, &poll_path).await);
    }
    assert_eq!(events.len(), 8, "{events:?}");
    let uri = "urn:dinhdanh:secevent:event-type:line-status-changed";
    for event in &events {
        assert_eq!(event["sub_id"]["format"], "phone_number", "{event}");
        assert_eq!(event["sub_id"]["phone_number"], "+84971234501");
        assert_eq!(event["events"][uri]["subscription"], id.as_str());
    }
    let mut currents: Vec<&str> = events
        .iter()
        .map(|event| event["events"][uri]["current_status"].as_str().unwrap())
        .collect();
    currents.sort_unstable();
    assert_eq!(
        currents,
        [
            "active",
            "active",
            "blocked",
            "blocked",
            "outgoing_suspended",
            "outgoing_suspended",
            "outgoing_suspended",
            "terminated"
        ]
    );

    // A line an organisation holds: its operator hears of its device change too.
    let company = expect_json(
        send(
            &app,
            Method::POST,
            &access,
            "/v1/subscriptions",
            Some(line_body("0971234502", json!({"tax_code": "0200000003"}))),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let company_id = company["id"].as_str().unwrap();
    expect_json(
        send(
            &app,
            Method::POST,
            &access,
            &format!("/v1/subscriptions/{company_id}/device-changes"),
            Some(json!({})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let events = poll_events(&app, &access, &poll_path).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["sub_id"]["phone_number"], "+84971234502");
    assert_eq!(
        events[0]["events"][uri]["current_status"],
        "outgoing_suspended"
    );
}

#[tokio::test]
async fn a_verified_line_is_the_phone_claim_and_its_holder_can_say_it_is_not_theirs() {
    use reqwest::Method;
    let app = oidc_app().await;
    let (_, _, access) = operator(&app, 4).await;
    let person = registered_adult(&app, 34).await;
    let citizen = with_account(&app, &person, EidLevel::Level1).await;
    let shop = platform(&app, "0100000034", "Chợ Điện Tử").await;
    let rp = client(
        &app,
        shop,
        "rp-phone",
        "https://phone.example.vn/cb",
        "openid verified phone",
        "EdDSA",
        None,
        1,
    )
    .await;
    let mut browser = Browser::new(&app);
    let claims_now = async |browser: &mut Browser| {
        let callback = authorize(
            browser,
            &authorize_query(&rp, "openid phone", &[]),
            &citizen,
        )
        .await;
        let code = query_param(&callback, "code").unwrap();
        let tokens = expect_json(exchange(&app, &rp, &code).await, StatusCode::OK).await;
        verified_id_token(&app, tokens["id_token"].as_str().unwrap()).await
    };

    // No verified line yet: the scope releases nothing.
    let claims = claims_now(&mut browser).await;
    assert!(claims.get("phone_number").is_none(), "{claims}");
    // A line pending its face check is not verified either; once attested, it is the claim.
    let mut pending = line_body("0981234501", declared(&person));
    pending.as_object_mut().unwrap().remove("face_check");
    let line = expect_json(
        send(
            &app,
            Method::POST,
            &access,
            "/v1/subscriptions",
            Some(pending),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = line["id"].as_str().unwrap().to_owned();
    assert!(claims_now(&mut browser).await.get("phone_number").is_none());
    expect_json(
        send(
            &app,
            Method::POST,
            &access,
            &format!("/v1/subscriptions/{id}/verifications"),
            Some(json!({"method": "đối chiếu tại cửa hàng", "checked_at": jiff::Timestamp::now().to_string()})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let claims = claims_now(&mut browser).await;
    assert_eq!(claims["phone_number"], "+84981234501", "{claims}");
    assert_eq!(claims["phone_number_verified"], true);

    // The person's page lists the line; "not mine" needs the form's CSRF token, tells the
    // operator, and the number is no longer released.
    let page = browser.get("/me?lang=en").await.text().await.unwrap();
    assert!(page.contains("SIMs in my name"), "{page}");
    assert!(page.contains("0981234501"), "{page}");
    assert!(page.contains(&format!("data-line=\"{id}\"")));
    let mut form = vec![
        ("tx", "me"),
        ("lang", "en"),
        ("line", id.as_str()),
        ("action", "not_mine"),
    ];
    assert_eq!(
        browser.post("/me/lines", &form).await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = hidden(&page, "csrf");
    form.push(("csrf", csrf.as_str()));
    let other_line = uuid::Uuid::now_v7().to_string();
    let mut stranger = form.clone();
    stranger[2] = ("line", other_line.as_str());
    assert_eq!(
        browser.post("/me/lines", &stranger).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        location(&browser.post("/me/lines", &form).await),
        "/me?tx=me&lang=en"
    );
    let page = browser.get("/me?lang=en").await.text().await.unwrap();
    assert!(page.contains("Reported as not mine"), "{page}");
    let transitions = expect_json(
        send(
            &app,
            Method::GET,
            &access,
            "/v1/subscriptions/transitions",
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let last = transitions["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["cause"], "reported_not_mine", "{transitions}");
    let read = expect_json(
        send(
            &app,
            Method::GET,
            &access,
            &format!("/v1/subscriptions/{id}"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["reported_not_mine"], true);
    assert!(claims_now(&mut browser).await.get("phone_number").is_none());
}
