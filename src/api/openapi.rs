//! The OpenAPI 3.1 description of every route, generated from the code (`utoipa`) and served
//! at `GET /api/openapi.json` without authentication.
//!
//! Adding a route to the document: put `#[utoipa::path(...)]` on its handler (its own
//! answers; the answers every authenticated route shares are added here, in `Shared`) and
//! its name to `paths(...)` below. A second path served by the same handler is one
//! [`ALIASES`] line. `tests/api/observability.rs` fails while a registered route is missing.

use super::answers::{
    AllScheduledAnswer, BulkAnswer, DeleteItem, ErrorBody, ImportAnswer, ProfileWrapped,
    PublishAnswer,
};
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "postgate",
        description = "A self-hosted social-media gateway that speaks the Ayrshare REST API. \
            Ayrshare-compatible routes keep Ayrshare's paths, fields and codes; the postgate \
            extensions (account linking, webhooks list, import, metrics) are marked as such. \
            Error answers are `{action, status: \"error\", code, message}`; every code and its \
            meaning is in the `ErrorCode` schema.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        super::health,
        super::metrics::metrics,
        document,
        super::publish::publish_post,
        super::delete::delete_post,
        super::posts::import,
        super::posts::get_post,
        super::hook::register,
        super::hook::unregister,
        super::hook::list,
        super::history::history,
        super::history::history_one,
        super::profiles::list_profiles,
        super::profiles::create_profile,
        super::profiles::update_profile,
        super::profiles::delete_profile,
        super::update::update_post,
        super::update::retry_post,
        super::publish::random_image,
        super::profiles::link_social,
        super::profiles::unlink_social,
        super::profiles::generate_jwt,
        super::profiles::user,
        super::link::page,
        super::link::connect,
        super::link::disconnect,
        super::link::threads_callback,
        super::link::x_callback,
    ),
    components(schemas(DeleteResponse, PublishResponse, ImportResponse)),
    modifiers(&Shared),
    tags(
        (name = "ayrshare", description = "Ayrshare-compatible routes"),
        (name = "postgate", description = "postgate extensions"),
        (name = "linking", description = "The linking page (HTML) and the networks' OAuth callbacks"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// Paths served by the handler of another path: (alias, documented path, method).
pub const ALIASES: &[(&str, HttpMethod, &str, HttpMethod)] = &[
    (
        "/api/delete",
        HttpMethod::Delete,
        "/api/post",
        HttpMethod::Delete,
    ),
    ("/api/post", HttpMethod::Patch, "/api/post", HttpMethod::Put),
    (
        "/api/profiles",
        HttpMethod::Put,
        "/api/profiles",
        HttpMethod::Patch,
    ),
    (
        "/api/profiles/profile",
        HttpMethod::Post,
        "/api/profiles",
        HttpMethod::Post,
    ),
    (
        "/api/profiles/profile",
        HttpMethod::Put,
        "/api/profiles",
        HttpMethod::Patch,
    ),
    (
        "/api/profiles/profile",
        HttpMethod::Delete,
        "/api/profiles",
        HttpMethod::Delete,
    ),
    (
        "/api/profiles/create-profile",
        HttpMethod::Post,
        "/api/profiles",
        HttpMethod::Post,
    ),
    (
        "/api/profiles/create-profile",
        HttpMethod::Put,
        "/api/profiles",
        HttpMethod::Patch,
    ),
    (
        "/api/profiles/create-profile",
        HttpMethod::Delete,
        "/api/profiles",
        HttpMethod::Delete,
    ),
    (
        "/api/profiles/delete-profile",
        HttpMethod::Delete,
        "/api/profiles",
        HttpMethod::Delete,
    ),
];

/// The OpenAPI document as JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|e| format!(r#"{{"error":"the document could not be rendered: {e}"}}"#))
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    description = "The OpenAPI 3.1 description of every route (postgate extension; no authentication).",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::build(StatusCode::OK)
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(json())
}

/// What every authenticated route shares: the API key, the optional `Profile-Key` and X
/// credential headers, and the error answers any of them can give (a bad key, a bad body, a
/// store failure). Then the aliases.
struct Shared;

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name(ErrorBody::name())))),
        )
        .build()
}

fn header_param(name: &str, description: &str) -> RefOr<utoipa::openapi::path::Parameter> {
    RefOr::T(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(String::schema()))
            .build(),
    )
}

/// Whether a route takes the API key: every `/api/` route but this document.
fn authenticated(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/openapi.json"
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> Vec<&mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
    .collect()
}

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The account's API key: `Authorization: Bearer API_KEY`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`metrics.token`, when set."))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            if !authenticated(path) {
                continue;
            }
            for op in operations_mut(item) {
                op.security = Some(vec![SecurityRequirement::new(
                    "api_key",
                    Vec::<String>::new(),
                )]);
                let params = op.parameters.get_or_insert_with(Vec::new);
                params.push(header_param(
                    "Profile-Key",
                    "Acts on this profile instead of the API key's primary profile.",
                ));
                params.push(header_param(
                    "X-Twitter-OAuth1-Api-Key",
                    "Your X app's consumer key (send with the secret, or neither).",
                ));
                params.push(header_param(
                    "X-Twitter-OAuth1-Api-Secret",
                    "Your X app's consumer secret (send with the key, or neither).",
                ));
                let responses = &mut op.responses.responses;
                for (status, description) in [
                    ("400", "The request is not valid (code 909 names the field; 923: one X credential header without the other)"),
                    ("401", "The API key is not valid (code 102)"),
                    ("403", "No API key was sent (code 102), or the Profile-Key is not valid for it (code 911)"),
                    ("413", "The body is larger than server.body_limit_bytes (code 910)"),
                    ("500", "Internal error; the details are in the gateway's log (code 915)"),
                ] {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::T(error_response(description)));
                }
            }
        }
        for (alias, alias_method, original, method) in ALIASES {
            let Some(op) = doc
                .paths
                .get_path_operation(original, method.clone())
                .cloned()
            else {
                continue;
            };
            let mut op = op;
            op.operation_id = op.operation_id.map(|id| {
                format!(
                    "{id}_{}_{}",
                    method_name(alias_method).to_lowercase(),
                    alias.trim_start_matches('/').replace(['/', '-'], "_")
                )
            });
            op.description = Some(format!(
                "{} Same as `{} {original}`.",
                op.description.unwrap_or_default(),
                method_name(method)
            ));
            doc.paths
                .add_path_operation(*alias, vec![alias_method.clone()], op);
        }
    }
}

/// An HTTP method's name, upper case.
fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Head => "HEAD",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Trace => "TRACE",
    }
}

/// A documentation type whose schema is `anyOf` its alternatives (an answer of several
/// shapes that overlap, where `oneOf` would be wrong).
macro_rules! any_of {
    ($(#[$doc:meta])* $name:ident: $($alt:ty),+) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let mut b = AnyOfBuilder::new();
                $(b = b.item(RefOr::Ref(Ref::from_schema_name(<$alt as ToSchema>::name())));)+
                b.into()
            }
        }

        impl ToSchema for $name {
            fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
                $(
                    out.push((<$alt as ToSchema>::name().into_owned(), <$alt as PartialSchema>::schema()));
                    <$alt as ToSchema>::schemas(out);
                )+
            }
        }
    };
}

any_of!(
    /// A delete's answer: one id, a bulk, or `deleteAllScheduled`.
    DeleteResponse: DeleteItem, BulkAnswer, AllScheduledAnswer
);

any_of!(
    /// A publish's answer: alone, or wrapped in `{status, posts}` for a `Profile-Key`
    /// request; a request refused as a whole is an error.
    PublishResponse: PublishAnswer, ProfileWrapped<PublishAnswer>, ErrorBody
);

any_of!(
    /// An import's answer, or an error for a request refused as a whole.
    ImportResponse: ImportAnswer, ErrorBody
);
