//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{organisations, persons, system};

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
        persons::create_person,
        persons::read_person,
        persons::update_person,
        persons::lookup_person,
        persons::add_guardian,
        persons::list_guardians,
        organisations::create_organisation,
        organisations::read_organisation,
        organisations::find_by_tax_code,
        organisations::update_organisation,
    ),
    modifiers(&OperatorAuth),
    tags(
        (name = "system", description = "Health, readiness, metrics"),
        (name = "persons", description = "The registry of people"),
        (name = "organisations", description = "The registry of organisations"),
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
    }
}

/// The OpenAPI document of this server.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
