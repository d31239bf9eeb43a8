//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes::{
    authorize, bindings, clients, discovery, keys, log, organisations, persons, ssf, subscriptions,
    system, token,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dinhdanh",
        description = "National cyberspace identity and trust platform: the identity registry API.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        system::healthz,
        system::readyz,
        system::metrics,
        system::openapi,
        keys::jwks,
        log::checkpoint,
        log::keys,
        log::tile,
        persons::create_person,
        persons::read_person,
        persons::update_person,
        persons::lookup_person,
        persons::add_guardian,
        persons::list_guardians,
        persons::list_disclosures,
        organisations::create_organisation,
        organisations::read_organisation,
        organisations::find_by_tax_code,
        organisations::update_organisation,
        clients::create_client,
        discovery::configuration,
        authorize::push,
        authorize::authorize,
        token::token,
        token::userinfo,
        token::revoke,
        bindings::create_binding,
        bindings::check_binding,
        ssf::configuration,
        ssf::create_stream,
        ssf::read_streams,
        ssf::update_stream,
        ssf::replace_stream,
        ssf::delete_stream,
        ssf::read_status,
        ssf::update_status,
        ssf::add_subject,
        ssf::remove_subject,
        ssf::verify,
        ssf::poll,
        subscriptions::check_subscriber,
        subscriptions::register,
        subscriptions::read,
        subscriptions::replace,
        subscriptions::terminate,
        subscriptions::device_change,
        subscriptions::verification,
        subscriptions::list_transitions,
    ),
    components(schemas(ProblemDocument)),
    modifiers(&OperatorAuth, &CommonProblems),
    tags(
        (name = "system", description = "Health, readiness, metrics"),
        (name = "keys", description = "Public signing keys"),
        (name = "log", description = "The disclosure log: signed checkpoints and hash tiles (C2SP tlog-tiles)"),
        (name = "persons", description = "The registry of people"),
        (name = "organisations", description = "The registry of organisations"),
        (name = "clients", description = "Relying parties of the OpenID Connect provider"),
        (name = "bindings", description = "Platform accounts bound to verified people, for platforms with an access token of their own (client credentials, `bindings` scope)"),
        (name = "subscribers", description = "Telecom subscriptions checked against the registry (Circular 08/2026), for operators with an access token of their own (client credentials, `subscribers` scope): the online check, registration, device changes and their transitions"),
        (name = "signals", description = "The Shared Signals Framework 1.0 transmitter: streams of security event tokens (RFC 8417) pushed (RFC 8935) or polled (RFC 8936), for platforms and operators with an access token of their own (client credentials, `signals` scope)"),
        (name = "oidc", description = "The OpenID Connect provider: discovery, PAR, authorization, token, userinfo, revocation. Its errors follow RFC 6749 §5.2 and RFC 6750 §3, which its clients' libraries parse, not RFC 9457"),
    )
)]
struct ApiDoc;

struct OperatorAuth;

impl Modify for OperatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An operator token from `dinhdanh tokens create --role <role>`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client's own access token from `POST /token` with \
                         `grant_type=client_credentials` (RFC 6749 §4.4)",
                    ))
                    .build(),
            ),
        );
    }
}

/// An RFC 9457 problem, as every error answer carries it (`application/problem+json`).
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)] // Only its schema is used; `problem::Problem` renders the bodies.
struct ProblemDocument {
    /// A stable URI naming the kind of problem.
    #[schema(
        rename = "type",
        example = "https://dinhdanh.invalid/problems/citizen-number-province"
    )]
    kind: String,
    /// A short summary of the kind.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong in this request. Never repeats a submitted value.
    detail: String,
    /// The request field at fault, when there is one.
    field: Option<String>,
}

/// The error answers every operation can give, added in one place rather than on each
/// handler: 401/403 where a token is required, 400/413/415 where a body is read, and
/// 500/503 everywhere. Each refers to one shared response in `components`.
struct CommonProblems;

const COMMON: [(&str, &str, &str); 7] = [
    ("400", "MalformedRequest", "Malformed body, query or path"),
    ("401", "Unauthorized", "No usable operator token"),
    ("403", "Forbidden", "The token's role does not allow this"),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the limit",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not application/json",
    ),
    (
        "500",
        "Internal",
        "The server failed; the cause is logged, not shown",
    ),
    (
        "503",
        "Unavailable",
        "The database does not answer, or the request took too long",
    ),
];

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in COMMON {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            components
                .responses
                .insert(name.to_owned(), RefOr::T(response));
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                add_common_problems(operation);
            }
        }
    }
}

fn add_common_problems(operation: &mut Operation) {
    // The provider's endpoints answer in OAuth's own error format.
    if operation
        .tags
        .as_ref()
        .is_some_and(|tags| tags.iter().any(|tag| tag == "oidc"))
    {
        return;
    }
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    for (status, name, _) in COMMON {
        let applies = match status {
            "401" | "403" => secured,
            "413" | "415" => has_body,
            "400" => has_body || secured,
            _ => true,
        };
        let responses = &mut operation.responses.responses;
        if applies && !responses.contains_key(status) {
            responses.insert(status.to_owned(), RefOr::Ref(Ref::from_response_name(name)));
        }
    }
    // Operation-specific problem answers refer to the same schema.
    for (code, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (code.starts_with(['4', '5']), response)
            && let Some(content) = response.content.get_mut("application/problem+json")
            && content.schema.is_none()
        {
            content.schema = Some(Ref::from_schema_name("Problem").into());
        }
    }
}

/// The OpenAPI document of this server.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
