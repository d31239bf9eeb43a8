//! The person's own page (`/me`): the platform accounts bound to them, with "unlink" and
//! "not mine"; the telecom lines in their name at every operator, with "not mine", which
//! tells the line's operator; and, for a guardian, the bindings of their children under 16, with approve,
//! deny and revoke; a password change, and "sign out everywhere". A login here goes through
//! the same pages as a client's, under the portal's transaction (`/login?tx=me`), and every
//! form carries a CSRF token bound to it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dinhdanh_core::{BindingStatus, GUARDIAN_CONSENT_BELOW, GuardianConsent};
use dinhdanh_crypto::TokenHash;
use dinhdanh_store::{
    Binding, BindingId, OrganisationId, PersonId, StoreError, Subscription, SubscriptionId,
};

use jiff::Timestamp;

use super::{
    PORTAL_TX, PageContext, PageQuery, Posted, children_under, count_attempt, current_session,
    end_session_cookie, hashed_password, internal, new_password, page_error, password_matches,
    posted, session_hash, throttled,
};
use crate::AppState;
use crate::pages::{self, BindingRow, ErrorMessage, FormError, LineRow, PortalNotice};
use crate::provider::{ClientAddress, FormPairs};
use crate::routes::authorize::see_other;

/// `GET /me`: the person's page, or the login that leads to it.
pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let ctx = match PageContext::new(&headers, PORTAL_TX.to_owned(), query.lang.as_deref()) {
        Ok(ctx) => ctx,
        Err(message) => return page_error(pages::Lang::Vi, message),
    };
    match current_session(&state, &headers).await {
        Ok(Some(session)) => render(&state, &ctx, session.person_id, None).await,
        Ok(None) => see_other(&ctx.url("/login")),
        Err(err) => page_error(ctx.lang, internal(&err)),
    }
}

/// The bindings the page shows: the person's own, and their children's that wait for, or
/// carry, a guardian's answer.
struct Shown {
    own: Vec<(Binding, String)>,
    children: Vec<(Binding, String, String)>,
    /// The lines in the person's name, with their operators' names.
    lines: Vec<(Subscription, String)>,
}

async fn shown(state: &AppState, person: PersonId) -> Result<Shown, StoreError> {
    let bindings = state.store.bindings();
    let mut names: HashMap<OrganisationId, String> = HashMap::new();
    let mut platform = async |id: OrganisationId| -> Result<String, StoreError> {
        if let Some(name) = names.get(&id) {
            return Ok(name.clone());
        }
        let name = state
            .store
            .find_organisation(id)
            .await?
            .map(|organisation| organisation.name)
            .unwrap_or_default();
        names.insert(id, name.clone());
        Ok(name)
    };
    let mut own = Vec::new();
    for binding in bindings.list_bindings_of(person).await? {
        let name = platform(binding.organisation_id).await?;
        own.push((binding, name));
    }
    let mut children_bindings = Vec::new();
    for (child, child_name) in children_under(state, person, GUARDIAN_CONSENT_BELOW).await? {
        for binding in bindings.list_bindings_of(child).await? {
            if binding.guardian_consent.is_some() && binding.status.stands() {
                let name = platform(binding.organisation_id).await?;
                children_bindings.push((binding, name, child_name.clone()));
            }
        }
    }
    let mut lines = Vec::new();
    for line in state
        .store
        .subscriptions()
        .list_subscriptions_of(person)
        .await?
    {
        let name = platform(line.operator_id).await?;
        lines.push((line, name));
    }
    Ok(Shown {
        own,
        children: children_bindings,
        lines,
    })
}

async fn render(
    state: &AppState,
    ctx: &PageContext,
    person: PersonId,
    notice: Option<PortalNotice>,
) -> Response {
    let shown = match shown(state, person).await {
        Ok(shown) => shown,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let own: Vec<BindingRow<'_>> = shown
        .own
        .iter()
        .map(|(binding, platform)| BindingRow::new(binding, platform, None))
        .collect();
    let children: Vec<BindingRow<'_>> = shown
        .children
        .iter()
        .map(|(binding, platform, child)| BindingRow::new(binding, platform, Some(child)))
        .collect();
    let lines: Vec<LineRow<'_>> = shown
        .lines
        .iter()
        .map(|(line, operator)| LineRow::new(line, operator))
        .collect();
    let status = match notice {
        None | Some(PortalNotice::PasswordChanged) => StatusCode::OK,
        Some(PortalNotice::NotAllowed) => StatusCode::CONFLICT,
        Some(PortalNotice::Password(FormError::WrongPassword)) => StatusCode::UNAUTHORIZED,
        Some(PortalNotice::Password(FormError::Locked | FormError::RateLimited)) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Some(PortalNotice::Password(_)) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ctx.render(state, status, |form| {
        pages::portal(form, &own, &children, &lines, notice)
    })
}

/// What a person may do to a binding, and what it becomes.
fn decided(
    binding: &Binding,
    action: &str,
    own: bool,
) -> Option<(BindingStatus, Option<GuardianConsent>)> {
    let live = binding.status.stands();
    let consent = binding.guardian_consent;
    match (action, own) {
        ("unlink", true) if live => Some((BindingStatus::Unlinked, consent)),
        ("not_mine", true) if live => Some((BindingStatus::Disputed, consent)),
        ("approve", false) if live && consent != Some(GuardianConsent::Approved) => {
            Some((BindingStatus::Active, Some(GuardianConsent::Approved)))
        }
        ("deny", false) if live && consent == Some(GuardianConsent::Pending) => {
            Some((BindingStatus::Refused, Some(GuardianConsent::Denied)))
        }
        ("revoke", false) if live && consent == Some(GuardianConsent::Approved) => {
            Some((BindingStatus::Refused, Some(GuardianConsent::Revoked)))
        }
        _ => None,
    }
}

/// A form posted on the person's page, who is signed in, and their session's hash.
struct PortalForm {
    form: FormPairs,
    ctx: PageContext,
    person: PersonId,
    session: TokenHash,
}

/// Checks a form posted on the person's page: its CSRF token and transaction, and the
/// session (none: off to the login).
async fn portal_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<PortalForm, Box<Response>> {
    let Posted { form, ctx } = posted(state, headers, body)?;
    if ctx.tx != PORTAL_TX {
        return Err(Box::new(page_error(ctx.lang, ErrorMessage::BadRequest)));
    }
    match (current_session(state, headers).await, session_hash(headers)) {
        (Ok(Some(session)), Some(hash)) => Ok(PortalForm {
            form,
            ctx,
            person: session.person_id,
            session: hash,
        }),
        (Ok(_), _) => Err(Box::new(see_other(&ctx.url("/login")))),
        (Err(err), _) => Err(Box::new(page_error(ctx.lang, internal(&err)))),
    }
}

/// `POST /me/password`: the current password, and the new one twice. A wrong current
/// password counts as a failed login (and locks the account as those do).
pub(super) async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PortalForm {
        form,
        ctx,
        person,
        session,
    } = match portal_form(&state, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let refused = |error| render(&state, &ctx, person, Some(PortalNotice::Password(error)));
    if throttled(&state, address) {
        return refused(FormError::RateLimited).await;
    }
    let password = match new_password(&form) {
        Ok(password) => password,
        Err(error) => return refused(error).await,
    };
    let oidc = state.store.oidc();
    let account = match oidc.find_account(person).await {
        Ok(Some(account)) => account,
        Ok(None) => return page_error(ctx.lang, ErrorMessage::BadRequest),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let current = form.get("current_password").unwrap_or_default().to_owned();
    if account
        .locked_until
        .is_some_and(|until| until > Timestamp::now())
    {
        password_matches(&state, None, current).await;
        return refused(FormError::Locked).await;
    }
    match count_attempt(&state, person).await {
        Ok(true) => {}
        Ok(false) => {
            password_matches(&state, None, current).await;
            return refused(FormError::Locked).await;
        }
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    if !password_matches(&state, Some(account.password_hash), current).await {
        return refused(FormError::WrongPassword).await;
    }
    let Some(hash) = hashed_password(&state, password).await else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    if let Err(err) = oidc.change_password(person, &hash, &session).await {
        return page_error(ctx.lang, internal(&err));
    }
    tracing::info!("a person changed their password");
    render(&state, &ctx, person, Some(PortalNotice::PasswordChanged)).await
}

/// `POST /me/sessions`: signs the person out of every browser, this one included, and
/// withdraws every grant they made; their platforms hear `session-revoked`.
pub(super) async fn sign_out_everywhere(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PortalForm { ctx, person, .. } = match portal_form(&state, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    match state.store.oidc().end_sessions(person).await {
        Ok(grants) => tracing::info!(grants, "a person signed out everywhere"),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    let mut response = see_other(&ctx.url("/me"));
    end_session_cookie(&mut response);
    response
}

/// `POST /me/bindings`: unlink or disown one of the person's bindings, or answer for a child.
pub(super) async fn decide_binding(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PortalForm {
        form, ctx, person, ..
    } = match portal_form(&state, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let Some(id) = form
        .get("binding")
        .and_then(|id| id.parse::<BindingId>().ok())
    else {
        return page_error(ctx.lang, ErrorMessage::BadRequest);
    };
    let action = form.get("action").unwrap_or_default();
    let shown = match shown(&state, person).await {
        Ok(shown) => shown,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    // Only a binding the page showed this person can be changed, and only as it allows.
    let target = shown
        .own
        .iter()
        .find(|(binding, _)| binding.id == id)
        .map(|(binding, _)| (binding, true))
        .or_else(|| {
            shown
                .children
                .iter()
                .find(|(binding, _, _)| binding.id == id)
                .map(|(binding, _, _)| (binding, false))
        });
    let Some((binding, own)) = target else {
        return page_error(ctx.lang, ErrorMessage::BadRequest);
    };
    let Some((status, consent)) = decided(binding, action, own) else {
        return render(&state, &ctx, person, Some(PortalNotice::NotAllowed)).await;
    };
    if let Err(err) = state
        .store
        .bindings()
        .update_binding(
            binding.person_id,
            id,
            status,
            consent,
            (!own).then_some(person),
        )
        .await
    {
        return page_error(ctx.lang, internal(&err));
    }
    tracing::info!(
        action,
        by_guardian = !own,
        "a binding changed on the person's page"
    );
    see_other(&ctx.url("/me"))
}

/// `POST /me/lines`: the person says a line in their name is not theirs. The line's
/// operator hears of it (a transition it polls, and a `line-status-changed` event); the
/// line stays as it is until the operator acts.
pub(super) async fn report_line(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PortalForm {
        form, ctx, person, ..
    } = match portal_form(&state, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let Some(id) = form
        .get("line")
        .and_then(|id| id.parse::<SubscriptionId>().ok())
    else {
        return page_error(ctx.lang, ErrorMessage::BadRequest);
    };
    if form.get("action") != Some("not_mine") {
        return page_error(ctx.lang, ErrorMessage::BadRequest);
    }
    match state
        .store
        .subscriptions()
        .report_not_mine(person, id, Timestamp::now())
        .await
    {
        Ok(_) => {}
        // Not a line of this person's: the same answer as a form that names nothing.
        Err(StoreError::NotFound(_)) => return page_error(ctx.lang, ErrorMessage::BadRequest),
        // Terminated since the page was shown: it shows the line as it is now.
        Err(StoreError::Conflict(_)) => {
            return render(&state, &ctx, person, Some(PortalNotice::NotAllowed)).await;
        }
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    tracing::info!("a person reported a line in their name as not theirs");
    see_other(&ctx.url("/me"))
}
